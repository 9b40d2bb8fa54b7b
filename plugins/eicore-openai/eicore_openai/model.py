"""The model: one async OpenAI client per instance, made on the first call, closed at the end."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

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
from eicore_openai.config import OpenAIConfig
from eicore_openai.messages import chat_request

if TYPE_CHECKING:
    from openai import AsyncOpenAI

NO_KEY = "no-key"
"""Sent when ``api_key_env`` is null: the SDK needs a value, keyless servers ignore it."""
ENDPOINT: Final = "/v1/chat/completions"
"""The endpoint of every line of a batch (the Batch API's name for it, not the client's URL)."""
ENDED = frozenset({"completed", "expired", "cancelled"})
"""Batch states with results to read (an expired or cancelled batch's finished requests)."""
RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAIModel(APIModel["AsyncOpenAI"]):
    """Chat completions, one request per prompt; retries and backoff are the SDK's.

    The request body is built here in wire form and sent with the SDK's generic ``post``, the
    answer read as plain JSON: ``chat.completions.create`` would re-walk the body against its
    typed parameters and build a pydantic object from the answer, about 0.9 ms of CPU per call
    (of 2.7 ms) that caps the throughput a fast local server (vLLM) allows; retries, timeouts,
    auth and error classes are the same. With ``batch_api`` the same bodies go out through the
    Batch API (a JSONL file of requests, then a batch over it).
    """

    config: OpenAIConfig
    has_batch_api = True
    max_batch_requests = 50_000
    max_batch_bytes = 190_000_000
    """The Batch API takes input files of at most 50,000 requests and 200 MB."""

    def __init__(self, config: OpenAIConfig) -> None:
        super().__init__(config)
        env = config.api_key_env
        self._api_key = api_key(env, owner="model.api_key_env") if env else NO_KEY
        import openai  # noqa: F401 - imported now, not on the run's event loop

    def make_client(self) -> AsyncOpenAI:
        from openai import AsyncOpenAI, DefaultAsyncHttpxClient

        return AsyncOpenAI(api_key=self._api_key, **self.sdk_options(DefaultAsyncHttpxClient))

    async def call_api(self, prompt: Prompt) -> Completion:
        request = chat_request(prompt, self.config)
        started = time.perf_counter()
        response = await self.client().post("/chat/completions", body=request, cast_to=object)
        return completion_of(response, time.perf_counter() - started)

    def batch_request(self, prompt: Prompt) -> dict[str, Any]:
        return chat_request(prompt, self.config)

    async def submit_batch(self, requests: Mapping[str, dict[str, Any]]) -> str:
        lines = "".join(
            json.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body}) + "\n"
            for key, body in requests.items()
        )
        client = self.client()
        upload = await client.files.create(
            file=("eicore-batch.jsonl", lines.encode()), purpose="batch"
        )
        batch = await client.batches.create(
            input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h"
        )
        return batch.id

    async def poll_batch(self, batch_id: str) -> BatchStatus:
        batch = await self.client().batches.retrieve(batch_id)
        if batch.status == "failed":
            errors = [e.message or e.code or "" for e in (batch.errors and batch.errors.data) or []]
            raise BatchError(f"batch {batch_id} failed: {excerpt('; '.join(errors), 300)}")
        return BatchStatus(batch.status in ENDED, batch.status)

    async def batch_results(self, batch_id: str) -> dict[str, Completion | Exception]:
        client = self.client()
        batch = await client.batches.retrieve(batch_id)
        took = float((batch.completed_at or batch.expired_at or batch.cancelled_at or 0) or 0)
        latency = max(took - batch.created_at, 0.0)
        results: dict[str, Completion | Exception] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                content = await client.files.content(file_id)
                for line in content.text.splitlines():
                    if line.strip():
                        key, outcome = line_outcome(json.loads(line), latency)
                        results[key] = outcome
        return results


def line_outcome(line: dict[str, Any], latency_s: float) -> tuple[str, Completion | Exception]:
    """One line of a batch's output or error file: its custom id, and the completion or the
    error (an expired request and a 408/409/429/5xx are worth sending again)."""
    response, error = line.get("response"), line.get("error")
    if response and response.get("status_code") == 200:
        try:
            return line["custom_id"], completion_of(response.get("body"), latency_s)
        except (RefusalError, ValueError) as exc:
            return line["custom_id"], exc
    if response:
        status = response.get("status_code")
        body = response.get("body") or {}
        message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
        failure = BatchError(f"HTTP {status}: {excerpt(str(message or body), 300)}",
                             retryable=status in RETRYABLE)  # fmt: skip
        return line["custom_id"], failure
    code = (error or {}).get("code")
    message = (error or {}).get("message") or "no response"
    return line["custom_id"], BatchError(f"{code}: {excerpt(message, 300)}",
                                         retryable=code == "batch_expired")  # fmt: skip


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
