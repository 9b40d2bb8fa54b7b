"""The paper's two judges as presets: ``paper-gpt`` (gpt-eval.py) and ``paper-llama3``
(llama3-eval.py), their messages read from the original scripts at run time
(:func:`eicore.judge_prompt`).

Each judge sends the script's own system message and its own user text — instruction, then the
record and the ground truth exactly as the file gives it — for the basic split, and the complex
script's for the complex split. What eicore does differently, on purpose: the verdict is read by
the tolerant ``{score: k/n}`` parser, a reply without one is asked again at most
``max_attempts`` times, and then the judgment is ``unparsed`` with a flag saying what the
original would have done (llama3-eval.py writes ``{score: 0/1}``, a silent 0; gpt-eval.py asks
again without end).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

from loguru import logger

from eicore import (
    BASIC_JUDGES,
    ConfigError,
    Judge,
    JudgePrompt,
    Judgment,
    ModelRole,
    Place,
    Prompt,
    Sample,
    constant,
    judge_prompt,
)
from eicore_metrics.verdicts import PARSE_POLICY, echo_contexts, parse_verdict

FALLBACK_FLAG = "[eicore] flag original-after-last-attempt:"
"""Starts the note of an unparsed paper judgment: what the original script did instead."""


@dataclass
class PaperJudgeConfig:
    model: Any = None
    """The judging model: gpt-3.5-turbo (a dated snapshot) or Meta-Llama-3-8B-Instruct."""
    script: str = "gpt"
    """Which original judge: ``gpt`` (gpt-eval.py) or ``llama3`` (llama3-eval.py)."""
    paper_root: str | None = None
    """A checkout of EIBench at the pinned commit (default ``$EICORE_PAPER``, else download)."""
    max_attempts: int = 5
    """The Llama script's five tries; the GPT script retried without limit."""
    backoff_s: float = 1.0


def original_after_last_attempt(script: str, root: str | None) -> str:
    """What the original judge script did when its last attempt had no verdict."""
    if script == "llama3":
        fallback = constant(Place(BASIC_JUDGES["llama3"], "main", "output", 1), root)
        return f"llama3-eval.py records {fallback!r} after its 5th attempt (a silent 0)"
    return "gpt-eval.py asks again without limit"


class PaperJudge(Judge):
    """Trigger recall as the paper's judge scripts asked for it."""

    config: PaperJudgeConfig
    asks_model = True

    def __init__(self, config: PaperJudgeConfig) -> None:
        super().__init__(config)
        if config.script not in BASIC_JUDGES:
            raise ConfigError(f"judge.script={config.script!r}: expected gpt or llama3")
        self._prompts: dict[str, JudgePrompt] = {}

    @property
    def name(self) -> str:
        """``paper-gpt`` or ``paper-llama3``: the preset names, one per script."""
        return f"paper-{self.config.script}"

    def strings(self, split: str) -> JudgePrompt:
        """The script's strings for ``split`` (complex, or basic for anything else)."""
        key = "complex" if split == "complex" else "basic"
        if key not in self._prompts:
            self._prompts[key] = judge_prompt(self.config.script, key, self.config.paper_root)
        return self._prompts[key]

    def prompt(self, sample: Sample, answer: str) -> Prompt:
        strings = self.strings(sample.split)
        truth = sample.truth or "\n".join(f"{i}. {t}" for i, t in enumerate(sample.triggers, 1))
        return Prompt.user(strings.user(answer, truth), system=strings.system)

    def describe(self) -> dict[str, Any]:
        basic = self.strings("basic")
        digest = hashlib.sha256(
            "\x00".join([basic.system, basic.instruction, basic.framing.literal]).encode()
        ).hexdigest()
        return {
            "plugin": self.name,
            "script": self.config.script,
            "sources": basic.sources,
            "prompt_template_sha256": digest,
            "max_attempts": self.config.max_attempts,
            "backoff_s": self.config.backoff_s,
            "parse_policy": PARSE_POLICY,
            "original_after_last_attempt": original_after_last_attempt(
                self.config.script, self.config.paper_root
            ),
        }

    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        if model is None:
            raise ValueError(f"judge {self.name!r} asks a model: give it its model role")
        prompt = self.prompt(sample, answer)
        contexts = echo_contexts(prompt.messages[-1].text)
        total = len(sample.triggers)
        replies: list[str] = []
        for attempt in range(max(1, self.config.max_attempts)):
            completion = await model.complete(prompt, round=attempt)
            cached = getattr(model, "last_cached", False)  # eicore's roles tell; no wait then
            replies.append(completion.text)
            verdict = parse_verdict(completion.text, total, contexts)
            if verdict is not None:
                notes = list(verdict.notes)
                if verdict.stated_total is not None and verdict.stated_total != total:
                    notes.append(
                        f"judge stated total {verdict.stated_total}, the sample has {total}"
                    )
                recalled = min(verdict.recalled, total)
                if recalled < verdict.recalled:
                    logger.warning(
                        "judge {}: {} of {} on {}; clipped", self.name, verdict.recalled, total,
                        sample.id,
                    )  # fmt: skip
                    notes.append(f"correct {verdict.recalled} clipped to {total}")
                if attempt:
                    notes.append(f"verdict on attempt {attempt + 1}")
                raw = completion.text + "".join(f"\n[eicore] {n}" for n in notes)
                return Judgment(self.name, recalled, total, "ok", raw)
            if attempt + 1 < self.config.max_attempts and not cached:
                await asyncio.sleep(self.config.backoff_s * 2**attempt)
        flag = original_after_last_attempt(self.config.script, self.config.paper_root)
        raw = "\n".join(f"--- attempt {i} ---\n{r}" for i, r in enumerate(replies, start=1))
        raw += f"\n{FALLBACK_FLAG} {flag}; eicore leaves it unparsed"
        return Judgment(self.name, None, total, "unparsed", raw)
