"""The paper's "user question" setting: a persona, an instruction to look, the question."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eicore import ImagePart, ModelRole, Prompt, Sample, Strategy

PERSONAS = {
    "none": "",
    "assistant": "You are a helpful AI assistant.",
    "unrelated_expert": "You are an expert in geology.",
    "emotion_expert": "You are an expert in emotion psychology who explains why people feel as they do.",
}
"""The paper's persona ablation; ``strategy.persona`` takes a key or any sentence of your own."""


@dataclass
class DirectConfig:
    persona: str = "emotion_expert"
    template: str = "{persona}\nLook at the image carefully, then answer the question.\n{question}"
    """The user turn; ``{persona}`` and ``{question}`` are filled in."""


def persona_text(persona: str) -> str:
    return PERSONAS.get(persona, persona)


class Direct(Strategy):
    """One call to the answerer with the image (when it accepts images) and the question."""

    roles = ("answerer",)
    config: DirectConfig

    async def answer(
        self, sample: Sample, image: ImagePart | None, models: Mapping[str, ModelRole]
    ) -> str:
        answerer = models["answerer"]
        text = self.config.template.format(
            persona=persona_text(self.config.persona), question=sample.question
        ).strip()
        parts = (image, text) if image is not None and answerer.accepts_images else (text,)
        completion = await answerer.complete(Prompt.user(*parts))
        return completion.text.strip()
