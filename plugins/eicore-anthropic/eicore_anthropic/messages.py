"""Prompts as Anthropic Messages requests: text blocks, and images inline as base64 blocks."""

from __future__ import annotations

import base64
from typing import Any

from eicore import ImagePart, Message, Prompt, TextOnlyModelError
from eicore_anthropic.config import AnthropicConfig


def messages_request(prompt: Prompt, config: AnthropicConfig) -> dict[str, Any]:
    """The keyword arguments of ``messages.create`` for ``prompt``.

    System text (the config's, then the prompt's) goes in the top-level ``system`` field. The
    SDK (1.0 on) has no ``temperature`` argument; the API still takes it, so it goes in
    ``extra_body`` when set.
    """
    system, turns = prompt.split_system(config.system)
    request: dict[str, Any] = {
        "model": config.name,
        "max_tokens": config.max_tokens,
        "messages": [{"role": m.role, "content": _blocks(m, config)} for m in turns],
    }
    if system:
        request["system"] = system
    if config.temperature is not None:
        request["extra_body"] = {"temperature": config.temperature}
    return request


def _blocks(message: Message, config: AnthropicConfig) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in message.parts:
        if not isinstance(part, ImagePart):
            blocks.append({"type": "text", "text": part.text})
        elif not config.vision:
            raise TextOnlyModelError(config.name)
        else:
            blocks.append({"type": "image", "source": image_source(part)})
    return blocks


def image_source(image: ImagePart) -> dict[str, str]:
    """A base64 image source; the media type was read from the bytes by eicore."""
    data = base64.b64encode(image.data).decode("ascii")
    return {"type": "base64", "media_type": image.media_type, "data": data}
