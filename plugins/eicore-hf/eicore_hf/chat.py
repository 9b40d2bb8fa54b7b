"""eicore prompts as the chat messages ``apply_chat_template`` takes."""

from __future__ import annotations

import io
from typing import Any

from eicore import ImagePart, Prompt, TextPart


def open_image(part: ImagePart) -> Any:
    """The image as an RGB PIL image."""
    from PIL import Image

    with Image.open(io.BytesIO(part.data)) as image:
        return image.convert("RGB")


def vision_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """Messages whose content is a list of ``{"type": "text"}`` and ``{"type": "image"}`` items,
    in the prompt's order; the images are PIL images the processor reads from the items."""
    return [
        {
            "role": message.role,
            "content": [
                {"type": "text", "text": part.text}
                if isinstance(part, TextPart)
                else {"type": "image", "image": open_image(part)}
                for part in message.parts
            ],
        }
        for message in prompt.messages
    ]


def text_messages(prompt: Prompt) -> list[dict[str, str]]:
    """Messages whose content is one string (the form every text-only chat template reads)."""
    if prompt.images:
        raise ValueError(
            f"a text-only model got a prompt with {len(prompt.images)} image(s); "
            "strategies must send images only to models that accept them"
        )
    return [{"role": message.role, "content": message.text} for message in prompt.messages]
