"""The paper's chain-of-thought setting: the direct prompt plus a zero-shot reasoning cue.

The model reasons, then writes the marker and its final list; the judge sees only what follows
the last marker (the whole reply if the marker is missing). The reasoning stays in the trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from eicore import ImagePart, ModelRole, Sample
from eicore_strategies.direct import Direct, DirectConfig


@dataclass
class CoTConfig(DirectConfig):
    template: str = (
        "{persona}\nLook at the image carefully, then answer the question.\n{question}\n{cue}\n"
        'When you have finished reasoning, write "{marker}" followed by the causes '
        "as a numbered list."
    )
    """The user turn; ``{persona}``, ``{question}``, ``{cue}`` and ``{marker}`` are filled in."""
    cue: str = "Let's think step by step."
    marker: str = "Final answer:"


def final_answer(reply: str, marker: str) -> str:
    """The text after the last ``marker`` (case-insensitive), or the whole reply without one."""
    parts = re.split(re.escape(marker), reply, flags=re.IGNORECASE)
    return parts[-1].strip() if len(parts) > 1 else reply.strip()


class CoT(Direct):
    """Direct's one call, its prompt with a reasoning cue; the answer is what follows the
    marker."""

    config: CoTConfig

    async def answer(
        self, sample: Sample, image: ImagePart | None, models: Mapping[str, ModelRole]
    ) -> str:
        return final_answer(await super().answer(sample, image, models), self.config.marker)
