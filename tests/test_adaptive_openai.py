"""``run.concurrency=auto`` with the openai plugin: the SDK's retried 429s reach the controller."""

from __future__ import annotations

import asyncio

import pytest

from eicore import Prompt
from eicore.run.calls import ModelClient
from eicore.testing.fake_api import FakeAPI, Reply


def test_a_429_the_sdk_retries_still_halves_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("eicore_openai")
    from eicore_openai.config import OpenAIConfig
    from eicore_openai.model import OpenAIModel

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-FAKEKEY-0123456789abcdef")
    with FakeAPI([Reply.rate_limited(retry_after_ms=1)]) as fake:
        model = OpenAIModel(OpenAIConfig(base_url=fake.url + "/v1", max_retries=2))
        _check(fake, ModelClient(model, None, adaptive=64))


def _check(fake: FakeAPI, client: ModelClient) -> None:
    assert client.adaptive is not None
    before = client.adaptive.controller.window

    async def call() -> str:
        try:
            completion, _ = await client.complete(Prompt.user("Why?"))
            return completion.text
        finally:
            await client.aclose()

    assert asyncio.run(call())  # answered after the SDK's retry
    assert [r.reply.status for r in fake.requests if r.reply] == [429, 200]
    controller = client.adaptive.controller
    assert controller.throttles == 1 and not controller.slow_start  # halved, then one success
    assert controller.window <= before
