"""The paper's "question + caption" setting: a captioner describes the image, the answerer
answers from the description, with or without the image itself.

``answerer_sees_image=false`` with a text-only answerer is the paper's text-only LLaMA-3 row.
Captions are cached like every call, written to ``captions.jsonl`` (``{"<image>": "<caption>"}``
per line), and a published file can stand in for the captioner: ``strategy.captions=<file>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eicore import ImagePart, ModelRole, Sample, SampleRecord, Strategy, read_jsonl
from eicore_strategies.personas import persona_text
from eicore_strategies.turns import ask

CAPTIONER_ROUND = 1
ANSWERER_ROUND = 2


@dataclass
class CaptionConfig:
    persona: str = "emotion_expert"
    caption_prompt: str = (
        "Describe this image in detail: the people, their facial expressions, body posture and "
        "gestures, what they are doing and with whom, the objects around them and the setting."
    )
    template: str = (
        "{persona}\nHere is a description of an image:\n{caption}\n"
        "Using the description, answer the question.\n{question}"
    )
    """The answerer's turn; ``{persona}``, ``{caption}`` and ``{question}`` are filled in."""
    answerer_sees_image: bool = True
    captions: str | None = None
    """A captions.jsonl from an earlier run: its captions are used instead of the captioner's."""


class MissingCaptionError(LookupError):
    """``strategy.captions`` has no caption for this sample's image."""


class Caption(Strategy):
    roles = ("captioner", "answerer")
    config: CaptionConfig

    def __init__(self, config: CaptionConfig) -> None:
        super().__init__(config)
        self.given: dict[str, str] = {}
        if config.captions:
            for _, row in read_jsonl(Path(config.captions).expanduser()):
                self.given.update(row)

    def needs_image(self, models: Mapping[str, ModelRole]) -> bool:
        answerer_looks = self.config.answerer_sees_image and models["answerer"].accepts_images
        return answerer_looks or (not self.given and models["captioner"].accepts_images)

    async def caption(self, sample: Sample, image: ImagePart | None, captioner: ModelRole) -> str:
        if self.config.captions:
            if sample.image not in self.given:
                raise MissingCaptionError(
                    f"{self.config.captions} has no caption for {sample.image}"
                )
            return self.given[sample.image]
        return await ask(captioner, self.config.caption_prompt, image, round=CAPTIONER_ROUND)

    async def answer(
        self, sample: Sample, image: ImagePart | None, models: Mapping[str, ModelRole]
    ) -> str:
        caption = await self.caption(sample, image, models["captioner"])
        text = self.config.template.format(
            persona=persona_text(self.config.persona), caption=caption, question=sample.question
        )
        shown = image if self.config.answerer_sees_image else None
        return await ask(models["answerer"], text, shown, round=ANSWERER_ROUND)

    def artifacts(self, records: Sequence[SampleRecord]) -> dict[str, Any]:
        """captions.jsonl: one caption per image, as used by this run."""
        captions: dict[str, str] = {}
        for record in records:
            image = record.sample.image
            if image in self.given:
                captions.setdefault(image, self.given[image])
            for call in record.response.trace if record.response else ():
                if call.role == "captioner" and call.completion.text.strip():
                    captions.setdefault(image, call.completion.text.strip())
        return {"captions.jsonl": [{image: text} for image, text in captions.items()]}
