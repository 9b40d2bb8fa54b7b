"""Prompts as OpenAI chat-completions requests: text, and images inline as data URLs."""

from __future__ import annotations

import base64
from typing import Any

from eicore import ImagePart, Message, Prompt, TextOnlyModelError
from eicore_openai.config import OpenAIConfig


def chat_request(prompt: Prompt, config: OpenAIConfig) -> dict[str, Any]:
    """The keyword arguments of ``chat.completions.create`` for ``prompt``.

    System text (the config's, then the prompt's) becomes one leading system message; a turn
    holding only text is sent as a plain string, which every compatible server accepts.
    """
    system, turns = prompt.split_system(config.system)
    messages = [{"role": m.role, "content": _content(m, config)} for m in turns]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    request: dict[str, Any] = {
        "model": config.name,
        "messages": messages,
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
    }
    for name in ("top_p", "repetition_penalty", "seed"):
        if getattr(config, name) is not None:
            request[name] = getattr(config, name)
    return request


def _content(message: Message, config: OpenAIConfig) -> str | list[dict[str, Any]]:
    if not any(isinstance(p, ImagePart) for p in message.parts):
        return message.text
    if not config.vision:
        raise TextOnlyModelError(config.name)
    return [
        {"type": "image_url", "image_url": {"url": data_url(p)}}
        if isinstance(p, ImagePart)
        else {"type": "text", "text": p.text}
        for p in message.parts
    ]


def data_url(image: ImagePart) -> str:
    """``data:<media type>;base64,<bytes>``, the media type read from the bytes by eicore."""
    return f"data:{image.media_type};base64,{base64.b64encode(image.data).decode('ascii')}"
