"""The openai plugin's 429s reach eicore's limit: under ``run.concurrency=auto`` the SDK's retried
ones halve the window; under a set concurrency a call the SDK gave up on is made again."""

from __future__ import annotations

import asyncio

import pytest

from eicore import Prompt
from eicore.run.calls import ModelClient
from eicore.testing.fake_api import FakeAPI, Reply


def test_a_429_the_sdk_retries_still_halves_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    client, before = _answered_after_a_429(monkeypatch, max_retries=2, adaptive=64)
    controller = client.limit.controller
    assert controller.throttles == 1 and not controller.slow_start
    assert controller.window <= before  # halved, then one success


def test_a_set_concurrency_makes_a_call_the_sdk_gave_up_on_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, before = _answered_after_a_429(monkeypatch, max_retries=0, adaptive=None)
    controller = client.limit.controller
    assert controller.throttles >= 1  # the SDK did not retry: eicore made the call again
    assert controller.window == before > 1000  # fixed; no max_concurrency: the run bounds it


def _answered_after_a_429(
    monkeypatch: pytest.MonkeyPatch, max_retries: int, adaptive: int | None
) -> tuple[ModelClient, int]:
    """An openai-plugin client whose first request meets a 429, after it answered; and its
    window before the call."""
    pytest.importorskip("eicore_openai")
    from eicore_openai.config import OpenAIConfig
    from eicore_openai.model import OpenAIModel

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-FAKEKEY-0123456789abcdef")
    with FakeAPI([Reply.rate_limited(retry_after_ms=1)]) as fake:
        model = OpenAIModel(OpenAIConfig(base_url=fake.url + "/v1", max_retries=max_retries))
        client = ModelClient(model, None, adaptive)
        assert client.limit is not None
        before = client.limit.controller.window

        async def call() -> str:
            try:
                completion, _ = await client.complete(Prompt.user("Why?"))
                return completion.text
            finally:
                await client.aclose()

        assert asyncio.run(call())
    assert [r.reply.status for r in fake.requests if r.reply] == [429, 200]
    return client, before
