"""The model: one async Anthropic client per instance, made on the first call, closed at the end."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eicore import (
    APIModel,
    BatchError,
    BatchStatus,
    Completion,
    Prompt,
    RefusalError,
    api_key,
    excerpt,
)
from eicore_anthropic.config import AnthropicConfig
from eicore_anthropic.messages import messages_request

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

RETRYABLE_ERRORS = frozenset({"api_error", "overloaded_error", "rate_limit_error", "timeout_error"})
"""Error types of an errored batch request worth sending again (the server's, not the request's)."""


class AnthropicModel(APIModel["AsyncAnthropic"]):
    """One Messages request per prompt; retries and backoff are the SDK's. With ``batch_api``
    the requests go out as Message Batches."""

    config: AnthropicConfig
    has_batch_api = True
    max_batch_requests = 100_000
    max_batch_bytes = 250_000_000
    """Message Batches take at most 100,000 requests and 256 MB."""

    def __init__(self, config: AnthropicConfig) -> None:
        super().__init__(config)
        self._api_key = api_key(config.api_key_env, owner="model.api_key_env")
        import anthropic  # noqa: F401 - imported now, not on the run's event loop

    @property
    def cacheable(self) -> bool:
        """Only at temperature 0: a null temperature means the API's default sampling."""
        return self.config.temperature is not None and self.config.temperature <= 0

    def make_client(self) -> AsyncAnthropic:
        from anthropic import AsyncAnthropic, DefaultAsyncHttpxClient

        return AsyncAnthropic(api_key=self._api_key, **self.sdk_options(DefaultAsyncHttpxClient))

    async def call_api(self, prompt: Prompt) -> Completion:
        request = messages_request(prompt, self.config)
        started = time.perf_counter()
        message = await self.client().messages.create(**request)
        return completion_of(message, time.perf_counter() - started)

    def batch_request(self, prompt: Prompt) -> dict[str, Any]:
        """The Messages request as the API takes it (what the SDK sends as ``extra_body``
        belongs in the body itself)."""
        request = messages_request(prompt, self.config)
        return {**{k: v for k, v in request.items() if k != "extra_body"},
                **request.get("extra_body", {})}  # fmt: skip

    async def submit_batch(self, requests: Mapping[str, dict[str, Any]]) -> str:
        batch = await self.client().messages.batches.create(
            requests=[{"custom_id": key, "params": body} for key, body in requests.items()]  # type: ignore[typeddict-item]
        )
        return batch.id

    async def poll_batch(self, batch_id: str) -> BatchStatus:
        batch = await self.client().messages.batches.retrieve(batch_id)
        return BatchStatus(batch.processing_status == "ended", batch.processing_status)

    async def batch_results(self, batch_id: str) -> dict[str, Completion | Exception]:
        messages = self.client().messages
        batch = await messages.batches.retrieve(batch_id)
        latency = max(((batch.ended_at or batch.created_at) - batch.created_at).total_seconds(), 0)
        results: dict[str, Completion | Exception] = {}
        async for line in await messages.batches.results(batch_id):
            result = line.result
            if result.type == "succeeded":
                try:
                    results[line.custom_id] = completion_of(result.message, latency)
                except RefusalError as exc:
                    results[line.custom_id] = exc
            elif result.type == "errored":
                error = result.error.error
                message = f"{error.type}: {excerpt(error.message, 300)}"
                results[line.custom_id] = BatchError(message, error.type in RETRYABLE_ERRORS)
            else:  # expired or canceled before it ran
                results[line.custom_id] = BatchError(f"the request {result.type}", retryable=True)
        return results


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
