"""The model: one async OpenAI client per instance, made on the first call, closed at the end."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from eicore import APIModel, Completion, Prompt, RefusalError, api_key, excerpt
from eicore_openai.config import OpenAIConfig
from eicore_openai.messages import chat_request

if TYPE_CHECKING:
    from openai import AsyncOpenAI

NO_KEY = "no-key"
"""Sent when ``api_key_env`` is null: the SDK needs a value, keyless servers ignore it."""


class OpenAIModel(APIModel):
    """Chat completions, one request per prompt; retries and backoff are the SDK's.

    The request body is built here in wire form and sent with the SDK's generic ``post``, the
    answer read as plain JSON: ``chat.completions.create`` would re-walk the body against its
    typed parameters and build a pydantic object from the answer, about 0.9 ms of CPU per call
    (of 2.7 ms) that caps the throughput a fast local server (vLLM) allows; retries, timeouts,
    auth and error classes are the same.
    """

    config: OpenAIConfig

    def __init__(self, config: OpenAIConfig) -> None:
        super().__init__(config)
        env = config.api_key_env
        self._api_key = api_key(env, owner="model.api_key_env") if env else NO_KEY
        import openai  # noqa: F401 - imported now, not on the run's event loop

        self._client: AsyncOpenAI | None = None

    def client(self) -> AsyncOpenAI:
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                max_retries=self.config.max_retries,
            )
        return self._client

    async def call_api(self, prompt: Prompt) -> Completion:
        request = chat_request(prompt, self.config)
        started = time.perf_counter()
        response = await self.client().post("/chat/completions", body=request, cast_to=object)
        return completion_of(response, time.perf_counter() - started)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def completion_of(response: Any, latency_s: float) -> Completion:
    """The first choice of a chat-completion JSON object as a Completion.

    A refusal or ``finish_reason: content_filter`` raises RefusalError, holding the completion
    (the call's usage counts); a body of another shape raises ValueError.
    """
    try:
        choice = response["choices"][0]
        message, finish = choice["message"], choice.get("finish_reason")
    except (TypeError, KeyError, IndexError):
        raise ValueError(f"not a chat completion: {excerpt(str(response), 300)}") from None
    refusal = message.get("refusal")
    usage = response.get("usage") or {}
    completion = Completion(
        text=message.get("content") or refusal or "",
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        latency_s=latency_s,
        finish_reason=finish,
    )
    if finish == "content_filter" or refusal:
        reason = f"the model refused (finish_reason={finish})" + (f": {refusal}" if refusal else "")
        raise RefusalError(reason, completion)
    return completion
