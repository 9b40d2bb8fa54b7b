"""The paper's "user question" setting: a persona, an instruction to look, the question."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eicore import ImagePart, ModelRole, Sample, Strategy
from eicore_strategies.personas import persona_text
from eicore_strategies.turns import ask


@dataclass
class DirectConfig:
    persona: str = "emotion_expert"
    template: str = "{persona}\nLook at the image carefully, then answer the question.\n{question}"
    """The user turn; ``{persona}`` and ``{question}`` are filled in."""


class Direct(Strategy):
    """One call to the answerer with the image (when it accepts images) and the question."""

    roles = ("answerer",)
    config: DirectConfig

    async def answer(
        self, sample: Sample, image: ImagePart | None, models: Mapping[str, ModelRole]
    ) -> str:
        persona = persona_text(self.config.persona)
        text = self.config.template.format(persona=persona, question=sample.question)
        return await ask(models["answerer"], text, image)
