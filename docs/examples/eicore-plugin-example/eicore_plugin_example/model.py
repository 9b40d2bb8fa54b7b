"""``acme-chat``: a chat model behind an HTTP endpoint speaking the OpenAI chat-completions
format, called with the standard library only (no SDK)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from eicore import APIModel, Completion, Message, Prompt, TextPart


@dataclass
class AcmeChatConfig:
    name: str = "acme-small"
    """The endpoint's model name."""
    base_url: str = "http://127.0.0.1:8000/v1"
    """Where the endpoint lives; ``/chat/completions`` is appended."""
    api_key_env: str = "ACME_API_KEY"
    """The environment variable holding the key; the key itself is never part of the config."""
    temperature: float = 0.0
    max_tokens: int = 512
    vision: bool = True
    """Send the sample's image with the prompt (as a data URL)."""
    concurrency: int | None = None
    """At most this many calls in flight; None: the run's ``run.concurrency``."""
    timeout: float = 60.0
    """Seconds to wait for one answer."""


def message_json(message: Message) -> dict[str, Any]:
    """One message in the OpenAI chat format: text parts and inline images."""
    content: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        else:
            data = base64.b64encode(part.data).decode("ascii")
            url = f"data:{part.media_type};base64,{data}"
            content.append({"type": "image_url", "image_url": {"url": url}})
    return {"role": message.role, "content": content}


class AcmeChat(APIModel):
    """One HTTP request per prompt; :class:`eicore.APIModel` fans a batch out concurrently."""

    config: AcmeChatConfig

    async def call_api(self, prompt: Prompt) -> Completion:
        return await asyncio.to_thread(self._post, prompt)  # urllib blocks: keep it off the loop

    def _post(self, prompt: Prompt) -> Completion:
        c = self.config
        key = os.environ.get(c.api_key_env)
        if not key:
            raise RuntimeError(f"acme-chat needs an API key in ${c.api_key_env}")
        body = {
            "model": c.name,
            "messages": [message_json(m) for m in prompt.messages],
            "temperature": c.temperature,
            "max_tokens": c.max_tokens,
        }
        request = urllib.request.Request(
            f"{c.base_url.rstrip('/')}/chat/completions",
            data=json.dumps(body).encode("utf-8"),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        start = time.monotonic()
        with urllib.request.urlopen(request, timeout=c.timeout) as response:
            reply = json.load(response)
        choice = reply["choices"][0]
        usage = reply.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            latency_s=time.monotonic() - start,
            finish_reason=choice.get("finish_reason"),
        )
