"""The paper's "user question" setting: a persona, an instruction to look, the question."""

from __future__ import annotations

import dataclasses
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
        return await ask(models["answerer"], self.user_turn(sample), image)

    def user_turn(self, sample: Sample) -> str:
        """The template filled in: the persona's text, the question, and the config's other
        fields by their names (a subclass's config adds its own)."""
        fields = dataclasses.asdict(self.config)
        persona = persona_text(self.config.persona)
        return self.config.template.format(
            **{**fields, "persona": persona, "question": sample.question}
        )
