"""Failures the server can cause: rate limits, errors, timeouts, bad bodies, refusals."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import pytest
from eicore_anthropic.model import AnthropicModel, RefusalError

from eicore.testing.api_runs import PROMPT, APIModelFailureTests
from eicore.testing.fake_api import FakeAPI, Reply


class TestFailures(APIModelFailureTests):
    SERVER_ERROR = anthropic.InternalServerError
    TIMEOUT_ERROR = anthropic.APITimeoutError
    CONNECTION_ERROR = anthropic.APIConnectionError


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
