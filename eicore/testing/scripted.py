"""Scripted models for tests: answers chosen by the prompt (:class:`ScriptedModel`) or given in
order (:class:`SequencedModel`), and what each received."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eicore.interfaces import Model
from eicore.types import Completion, Prompt


@dataclass
class ScriptedConfig:
    replies: dict[str, str] = field(default_factory=dict)
    """Substring of the prompt's text → reply; the first key found (in order) answers."""
    default: str = "Answer to: {last_line}"
    """The reply when no key matches; ``{last_line}`` is the prompt's last line of text."""
    vision: bool = True
    """Whether the model accepts images."""
    log: str | None = None
    """A JSONL file receiving one line per prompt: its text and image digests."""


class ScriptedModel(Model):
    """Deterministic replies chosen by substring, so a test can script every step of a strategy."""

    config: ScriptedConfig

    def __init__(self, config: ScriptedConfig) -> None:
        super().__init__(config)
        self.accepts_images = config.vision

    def reply(self, prompt: Prompt) -> str:
        text = "\n".join(m.text for m in prompt.messages)
        for key, reply in self.config.replies.items():
            if key in text:
                return reply
        lines = [line for line in text.splitlines() if line.strip()]
        return self.config.default.format(last_line=lines[-1] if lines else "")

    async def generate(self, prompts: Sequence[Prompt]) -> list[Completion]:
        if self.config.log:
            with Path(self.config.log).open("a", encoding="utf-8") as log:
                for p in prompts:
                    row = {
                        "text": [m.text for m in p.messages],
                        "images": [i.sha256 for i in p.images],
                    }
                    log.write(json.dumps(row) + "\n")
        return [Completion(text=self.reply(p), finish_reason="stop") for p in prompts]


class SequencedModel(Model):
    """Replies from a list, one per call in order, whatever the prompt, so a test can script
    what a judge gets on each retry; ``prompts`` holds the text of each prompt received."""

    def __init__(self, replies: Sequence[str]) -> None:
        super().__init__(None)
        self.replies = list(replies)
        self.prompts: list[str] = []

    def identity(self) -> dict[str, object]:
        return {"plugin": "sequenced", "replies": self.replies}

    async def generate(self, prompts: Sequence[Prompt]) -> list[Completion]:
        completions = []
        for prompt in prompts:
            self.prompts.append("\n".join(m.text for m in prompt.messages))
            completions.append(Completion(self.replies[len(self.prompts) - 1]))
        return completions
