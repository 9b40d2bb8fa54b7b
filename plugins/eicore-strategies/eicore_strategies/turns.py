"""One question to one role: the text, plus the image when that role can see it."""

from __future__ import annotations

from eicore import ImagePart, ModelRole, Prompt


async def ask(
    model: ModelRole, text: str, image: ImagePart | None = None, *, round: int = 0
) -> str:
    """The role's answer to ``text``; ``image`` is attached only if the role accepts images."""
    parts = (image, text.strip()) if image is not None and model.accepts_images else (text.strip(),)
    completion = await model.complete(Prompt.user(*parts), round=round)
    return completion.text.strip()


def numbered(items: list[str]) -> str:
    return "\n".join(f"{n}. {item}" for n, item in enumerate(items, 1))
