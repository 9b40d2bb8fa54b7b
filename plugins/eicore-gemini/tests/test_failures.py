"""Failures the server can cause: rate limits, errors, timeouts, bad bodies, refusals."""

from __future__ import annotations

import asyncio
import email.utils
import json
from collections.abc import Callable

import httpx2
import pytest
from eicore_gemini import retries
from eicore_gemini.model import GeminiModel, RefusalError, ThoughtsOnlyError
from google.genai import errors

from eicore.testing.api_runs import PROMPT, APIModelFailureTests, OnTheFake
from eicore.testing.fake_api import FakeAPI, Reply


class TestFailures(APIModelFailureTests):
    """The shared failure tests; the plugin is the conftest's ``api_plugin``."""

    def test_a_body_that_is_not_json_fails(self, api: OnTheFake) -> None:
        super().test_a_body_that_is_not_json_fails(api)
        assert len(api.fake.requests) == 1


def test_the_retry_delay_of_a_gemini_error_body_is_honoured(
    fake: FakeAPI,
    model: Callable[..., GeminiModel],
    complete: Callable,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    real = asyncio.sleep

    async def recording(seconds: float) -> None:
        waits.append(seconds)
        await real(seconds)

    monkeypatch.setattr(retries.asyncio, "sleep", recording)
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.6s"}
    error = {
        "code": 429,
        "message": "quota",
        "status": "RESOURCE_EXHAUSTED",
        "details": [retry_info],
    }
    fake.enqueue(Reply(status=429, body=json.dumps({"error": error}).encode()), "1. Sunshine")
    (completion,) = complete(model(), PROMPT)
    assert completion.text == "1. Sunshine"
    assert waits == [pytest.approx(0.6)]  # the body's retryDelay, not a backoff (at most 0.5 s)


def test_a_retry_after_date_and_the_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    now = 1_800_000_000.0
    monkeypatch.setattr(retries.time, "time", lambda: now)  # the clock stands still
    soon = email.utils.formatdate(now + 30, usegmt=True)
    error = errors.APIError(429, {}, httpx2.Response(429, headers={"retry-after": soon}))
    assert retries.server_delay(error) == 30
    assert retries.delay(0, 3600) == retries.MAX_SERVER_DELAY
    assert all(0.375 <= retries.delay(0, None) <= 0.5 for _ in range(20))
    assert all(6 <= retries.delay(9, None) <= retries.MAX_DELAY for _ in range(20))


def test_a_client_error_is_not_retried(
    fake: FakeAPI, model: Callable[..., GeminiModel], complete: Callable
) -> None:
    fake.reset(answer=Reply(text="bad request", status=400))
    with pytest.raises(errors.ClientError, match="400"):
        complete(model(), PROMPT)
    assert len(fake.requests) == 1


def test_a_blocked_prompt_raises_with_the_reason(
    fake: FakeAPI, model: Callable[..., GeminiModel], complete: Callable
) -> None:
    blocked = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 7},
    }
    fake.enqueue(Reply(body=json.dumps(blocked).encode()))
    with pytest.raises(RefusalError, match="block_reason=PROHIBITED_CONTENT") as refused:
        complete(model(), PROMPT)
    usage = refused.value.completion.input_tokens, refused.value.completion.output_tokens
    assert usage == (7, 0)  # the prompt was read, and billed


def test_a_budget_spent_on_thoughts_says_so(
    fake: FakeAPI, model: Callable[..., GeminiModel], complete: Callable
) -> None:
    body = {
        "candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "MAX_TOKENS"}],
        "usageMetadata": {"promptTokenCount": 9, "thoughtsTokenCount": 512},
    }
    fake.enqueue(Reply(body=json.dumps(body).encode()))
    with pytest.raises(ThoughtsOnlyError, match="512 thinking tokens.*max_tokens") as spent:
        complete(model(), PROMPT)
    usage = spent.value.completion.input_tokens, spent.value.completion.output_tokens
    assert usage == (9, 512)  # thoughts are billed as answer tokens
