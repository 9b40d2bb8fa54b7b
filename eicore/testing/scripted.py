"""A scripted model for tests: answers from a table of replies and logs what it received."""

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
