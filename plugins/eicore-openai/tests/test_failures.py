"""Failures the server can cause: rate limits, errors, timeouts, bad bodies, refusals."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest
from eicore_openai.model import OpenAIModel, RefusalError

from eicore.testing.api_runs import PROMPT, APIModelFailureTests
from eicore.testing.fake_api import FakeAPI, Reply


class TestFailures(APIModelFailureTests):
    SERVER_ERROR = openai.InternalServerError
    TIMEOUT_ERROR = openai.APITimeoutError
    CONNECTION_ERROR = openai.APIConnectionError


def test_a_refusal_raises_with_the_reason(
    fake: FakeAPI, model: Callable[..., OpenAIModel], complete: Callable
) -> None:
    fake.enqueue(Reply.refusal("I can't discuss people in images."))
    with pytest.raises(RefusalError, match="content_filter.*can't discuss people"):
        complete(model(), PROMPT)


def test_an_empty_answer_is_returned_empty(
    fake: FakeAPI, model: Callable[..., OpenAIModel], complete: Callable
) -> None:
    fake.enqueue(Reply.empty())
    (completion,) = complete(model(), PROMPT)
    assert completion.text == "" and completion.finish_reason == "stop"
