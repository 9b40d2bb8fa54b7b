"""The paper's chain-of-thought setting: the direct prompt plus a zero-shot reasoning cue.

The model reasons, then writes the marker and its final list; the judge sees only what follows
the last marker (the whole reply if the marker is missing). The reasoning stays in the trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from eicore import ImagePart, ModelRole, Sample, Strategy
from eicore_strategies.personas import persona_text
from eicore_strategies.turns import ask


@dataclass
class CoTConfig:
    persona: str = "emotion_expert"
    cue: str = "Let's think step by step."
    marker: str = "Final answer:"
    template: str = (
        "{persona}\nLook at the image carefully, then answer the question.\n{question}\n{cue}\n"
        'When you have finished reasoning, write "{marker}" followed by the causes '
        "as a numbered list."
    )
    """The user turn; ``{persona}``, ``{question}``, ``{cue}`` and ``{marker}`` are filled in."""


def final_answer(reply: str, marker: str) -> str:
    """The text after the last ``marker`` (case-insensitive), or the whole reply without one."""
    parts = re.split(re.escape(marker), reply, flags=re.IGNORECASE)
    return parts[-1].strip() if len(parts) > 1 else reply.strip()


class CoT(Strategy):
    roles = ("answerer",)
    config: CoTConfig

    async def answer(
        self, sample: Sample, image: ImagePart | None, models: Mapping[str, ModelRole]
    ) -> str:
        c = self.config
        text = c.template.format(
            persona=persona_text(c.persona), question=sample.question, cue=c.cue, marker=c.marker
        )
        return final_answer(await ask(models["answerer"], text, image), c.marker)
