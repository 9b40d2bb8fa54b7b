"""Prompts as generateContent requests: text parts, and images inline as bytes."""

from __future__ import annotations

from typing import Any

from eicore import ImagePart, Message, Prompt, TextOnlyModelError
from eicore_gemini.config import GeminiConfig


def content_request(prompt: Prompt, config: GeminiConfig) -> dict[str, Any]:
    """The keyword arguments of ``models.generate_content`` for ``prompt``.

    System text (the config's, then the prompt's) becomes the system instruction; assistant
    turns are sent as the ``model`` role.
    """
    from google.genai import types

    system = [config.system] if config.system else []
    contents = []
    for message in prompt.messages:
        if message.role == "system":
            system.append(message.text)
        else:
            role = "user" if message.role == "user" else "model"
            contents.append(types.Content(role=role, parts=_parts(message, config)))
    generation = types.GenerateContentConfig(
        system_instruction="\n\n".join(system) if system else None,
        temperature=config.temperature,
        max_output_tokens=config.max_tokens,
        seed=config.seed,
    )
    return {"model": config.name, "contents": contents, "config": generation}


def _parts(message: Message, config: GeminiConfig) -> list[Any]:
    from google.genai import types

    parts = []
    for part in message.parts:
        if not isinstance(part, ImagePart):
            parts.append(types.Part.from_text(text=part.text))
        elif not config.vision:
            raise TextOnlyModelError(config.name)
        else:  # the media type was read from the bytes by eicore
            parts.append(types.Part.from_bytes(data=part.data, mime_type=part.media_type))
    return parts
