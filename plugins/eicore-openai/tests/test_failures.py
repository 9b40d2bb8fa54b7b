"""Failures the server can cause: rate limits, errors, timeouts, bad bodies, refusals."""

from __future__ import annotations

import dataclasses
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
    refusal = Reply.refusal("I can't discuss people in images.")
    fake.enqueue(dataclasses.replace(refusal, input_tokens=40, output_tokens=8))
    with pytest.raises(RefusalError, match="content_filter.*can't discuss people") as refused:
        complete(model(), PROMPT)
    completion = refused.value.completion  # the call was billed: its usage is kept
    assert (completion.input_tokens, completion.output_tokens) == (40, 8)
    assert completion.text == "I can't discuss people in images."


def test_an_empty_answer_is_returned_empty(
    fake: FakeAPI, model: Callable[..., OpenAIModel], complete: Callable
) -> None:
    fake.enqueue(Reply.empty())
    (completion,) = complete(model(), PROMPT)
    assert completion.text == "" and completion.finish_reason == "stop"
