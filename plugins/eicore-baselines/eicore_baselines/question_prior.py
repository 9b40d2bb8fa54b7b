"""``question-prior``: a blind baseline that answers from the ground truth of a similar question.

It never sees the image. For each prompt it finds the dataset question the prompt asks, and
answers with the ground-truth triggers of the most similar *other* question of the same split
(leave-one-question-out, see :mod:`eicore_baselines.neighbours`). Its recall measures how much
of EIBench can be scored from the wording of the questions alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eicore_metrics.embeddings import MODEL_NAME, shared_encoder

from eicore import Completion, Model, Prompt, build
from eicore_baselines.neighbours import QuestionIndex


@dataclass
class QuestionPriorConfig:
    data: Any = "${data}"
    """The dataset config whose split is searched; by default the run's own ``data``. Its
    subset fields (``limit``, ``emotions``…) are ignored: the search covers the whole split."""
    batch_size: int = 64


def user_text(prompt: Prompt) -> str:
    """The text of the prompt's last user message."""
    for message in reversed(prompt.messages):
        if message.role == "user":
            return message.text
    raise ValueError("question-prior needs a prompt with a user message")


def numbered(triggers: Sequence[str]) -> str:
    return "\n".join(f"{n}. {trigger}" for n, trigger in enumerate(triggers, 1))


class QuestionPrior(Model):
    """Answers with the triggers of the nearest other question; the index is built on first use."""

    accepts_images = False
    config: QuestionPriorConfig

    def __init__(self, config: QuestionPriorConfig) -> None:
        super().__init__(config)
        self.samples = build("dataset", config.data).load()
        self._index: QuestionIndex | None = None
        self._index_lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        """The split's name and content digest: subset fields such as ``limit`` do not count."""
        content = [(s.id, s.question, s.triggers) for s in self.samples]
        digest = hashlib.sha256(json.dumps(content).encode()).hexdigest()
        return {
            "plugin": getattr(self.config, "plugin", "question-prior"),
            "encoder": MODEL_NAME,
            "split": self.samples[0].split if self.samples else None,
            "content_sha256": digest,
        }

    def _build_index(self) -> QuestionIndex:
        with self._index_lock:
            if self._index is None:
                self._index = QuestionIndex.build(self.samples, shared_encoder())
            return self._index

    def _answer(self, prompts: Sequence[Prompt]) -> list[Completion]:
        index = self._build_index()
        started = time.perf_counter()
        nearest = [index.nearest(user_text(p)) for p in prompts]
        latency = (time.perf_counter() - started) / max(len(prompts), 1)
        return [
            Completion(
                text=numbered(s.triggers) if s else "",
                latency_s=latency,
                finish_reason="stop" if s else "no_other_question",
            )
            for s in nearest
        ]

    async def generate(self, prompts: Sequence[Prompt]) -> list[Completion]:
        return await asyncio.to_thread(self._answer, prompts)
