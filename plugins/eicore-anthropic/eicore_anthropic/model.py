"""The model: one async Anthropic client per instance, made on the first call, closed at the end."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from eicore import APIModel, Completion, Prompt, RefusalError, api_key
from eicore_anthropic.config import AnthropicConfig
from eicore_anthropic.messages import messages_request

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic


class AnthropicModel(APIModel):
    """One Messages request per prompt; retries and backoff are the SDK's."""

    config: AnthropicConfig

    def __init__(self, config: AnthropicConfig) -> None:
        super().__init__(config)
        self._api_key = api_key(config.api_key_env, owner="model.api_key_env")
        import anthropic  # noqa: F401 - imported now, not on the run's event loop

        self._client: AsyncAnthropic | None = None

    @property
    def cacheable(self) -> bool:
        """Only at temperature 0: a null temperature means the API's default sampling."""
        return self.config.temperature is not None and self.config.temperature <= 0

    def client(self) -> AsyncAnthropic:
        if self._client is None:
            from anthropic import AsyncAnthropic

            self._client = AsyncAnthropic(
                api_key=self._api_key,
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                max_retries=self.config.max_retries,
            )
        return self._client

    async def call_api(self, prompt: Prompt) -> Completion:
        request = messages_request(prompt, self.config)
        started = time.perf_counter()
        message = await self.client().messages.create(**request)
        return completion_of(message, time.perf_counter() - started)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def completion_of(message: Any, latency_s: float) -> Completion:
    """The text blocks as a Completion; ``stop_reason: refusal`` raises RefusalError, holding
    the completion (the call's usage counts)."""
    text = "".join(block.text for block in message.content if block.type == "text")
    completion = Completion(
        text=text,
        input_tokens=message.usage.input_tokens,
        output_tokens=message.usage.output_tokens,
        latency_s=latency_s,
        finish_reason=message.stop_reason,
    )
    if message.stop_reason == "refusal":
        details = getattr(message, "stop_details", None)
        explanation = getattr(details, "explanation", None) or text
        reason = f": {explanation}" if explanation else ""
        raise RefusalError(f"the model refused (stop_reason=refusal){reason}", completion)
    return completion
