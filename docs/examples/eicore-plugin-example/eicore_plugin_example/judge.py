"""``verbatim``: a ground-truth trigger counts as recalled when the answer contains its text."""

from __future__ import annotations

from dataclasses import dataclass

from eicore import Judge, Judgment, ModelRole, Sample


@dataclass
class VerbatimConfig:
    case_sensitive: bool = False
    """Compare the texts as they are; by default case is ignored."""


class Verbatim(Judge):
    config: VerbatimConfig

    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        def fold(text: str) -> str:
            return text if self.config.case_sensitive else text.casefold()

        said = fold(answer)
        matched = tuple(i for i, t in enumerate(sample.triggers) if fold(t) in said)
        total = len(sample.triggers)
        return Judgment(
            judge=self.name,
            recalled=len(matched),
            total=total,
            raw=f"{{score: {len(matched)}/{total}}}",
            matched=matched,
        )
