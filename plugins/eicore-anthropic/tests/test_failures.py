"""Failures the server can cause: rate limits, errors, timeouts, bad bodies, refusals."""

from __future__ import annotations

import time
from collections.abc import Callable

import anthropic
import pytest
from eicore_anthropic.model import AnthropicModel, RefusalError

from eicore import Prompt
from eicore.testing.fake_api import FakeAPI, Reply

PROMPT = Prompt.user("Why is the woman in the image so happy?")


def timed(complete: Callable, instance: AnthropicModel) -> tuple[str, float]:
    started = time.perf_counter()
    (completion,) = complete(instance, PROMPT)
    return completion.text, time.perf_counter() - started


def test_429_then_success_waits_retry_after_ms(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    fake.enqueue(Reply.rate_limited(retry_after_ms=5), "1. Sunshine")
    text, seconds = timed(complete, model())
    assert text == "1. Sunshine"
    assert [r.reply.status for r in fake.requests] == [429, 200]
    assert seconds < 0.35  # 5 ms asked; the SDK's own backoff would wait 0.375 s at least


def test_retry_after_in_seconds_is_honoured(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    fake.enqueue(Reply.rate_limited(retry_after_ms=None, retry_after="0.6"), "1. Sunshine")
    text, seconds = timed(complete, model())
    assert text == "1. Sunshine"
    assert seconds >= 0.55  # longer than any first backoff of the SDK's own (at most 0.5 s)


def test_server_errors_until_retries_run_out_raise_the_provider_error(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    fake.reset(answer=Reply.server_error())
    with pytest.raises(anthropic.InternalServerError, match="500"):
        complete(model(max_retries=3), PROMPT)
    assert len(fake.requests) == 4  # the first try and 3 retries (the SDK's default is 2)


def test_a_reply_slower_than_the_timeout_fails_after_the_retries(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    fake.reset(answer=Reply.slow(5))
    started = time.perf_counter()
    with pytest.raises(anthropic.APITimeoutError):
        complete(model(timeout=0.2, max_retries=0), PROMPT)
    assert time.perf_counter() - started < 2
    assert len(fake.requests) == 1


def test_a_timeout_is_retried(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    fake.enqueue(Reply.slow(5), "1. Sunshine")
    text, _ = timed(complete, model(timeout=0.3, max_retries=1))
    assert text == "1. Sunshine"
    assert len(fake.requests) == 2


def test_a_body_that_is_not_json_fails(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    fake.enqueue(Reply.malformed())
    with pytest.raises(ValueError):
        complete(model(), PROMPT)


def test_a_truncated_body_is_retried_then_fails(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    fake.enqueue(Reply.truncated(), "1. Sunshine")
    assert timed(complete, model(max_retries=1))[0] == "1. Sunshine"
    fake.reset(answer=Reply.truncated())
    with pytest.raises(anthropic.APIConnectionError):
        complete(model(max_retries=0), PROMPT)


def test_a_refusal_raises_with_the_reason(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    fake.enqueue(Reply.refusal("I can't discuss people in images."))
    with pytest.raises(RefusalError, match="stop_reason=refusal.*can't discuss people"):
        complete(model(), PROMPT)


def test_an_empty_answer_is_returned_empty(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    fake.enqueue(Reply.empty())
    (completion,) = complete(model(), PROMPT)
    assert completion.text == "" and completion.finish_reason == "end_turn"
