"""``refine``: answer, then review the draft and answer again (one model call per round)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eicore import ImagePart, ModelRole, Prompt, Sample, Strategy


@dataclass
class RefineConfig:
    ask: str = "Look at the image. {question}\nList the causes as a numbered list."
    """The first turn, to the answerer; ``{question}`` is filled in."""
    review: str = (
        "Question: {question}\nA first answer:\n{draft}\n"
        "Remove causes the image does not support, add causes that were missed, "
        "and reply with the final numbered list only."
    )
    """Each review turn, to the reviewer; ``{question}`` and ``{draft}`` are filled in."""
    rounds: int = 1
    """How many review rounds follow the first answer."""


class Refine(Strategy):
    """The answerer drafts; the reviewer (the same model unless given its own) revises."""

    roles = ("answerer", "reviewer")
    config: RefineConfig

    async def answer(
        self, sample: Sample, image: ImagePart | None, models: Mapping[str, ModelRole]
    ) -> str:
        draft = await ask(
            models["answerer"], self.config.ask.format(question=sample.question), image
        )
        for round in range(1, self.config.rounds + 1):
            text = self.config.review.format(question=sample.question, draft=draft)
            draft = await ask(models["reviewer"], text, image, round=round)
        return draft


async def ask(model: ModelRole, text: str, image: ImagePart | None, *, round: int = 0) -> str:
    """The role's answer to ``text``, with the image only if that role accepts images."""
    parts = (image, text) if image is not None and model.accepts_images else (text,)
    completion = await model.complete(Prompt.user(*parts), round=round)
    return completion.text.strip()
