"""``acme-chat`` against eicore's fake API server: what it sends, what it returns, how it fails."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
from eicore_plugin_example.model import AcmeChat, AcmeChatConfig

from eicore import ImagePart, Prompt
from eicore.testing.fake_api import FakeAPI, Reply

KEY = "acme-test-key"


@pytest.fixture
def model(fake: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> AcmeChat:
    monkeypatch.setenv("ACME_API_KEY", KEY)
    return AcmeChat(AcmeChatConfig(base_url=fake.url + "/v1", name="acme-large"))


def test_a_prompt_goes_out_in_chat_format_and_the_answer_comes_back(model, fake, complete) -> None:
    fake.reset(answer="1. a raised fist\n2. a broken vase")
    image = ImagePart(Path("angry/1.png"), b"\x89PNG fake bytes", "image/png")
    prompt = Prompt.user(image, "Why is he angry?", system="You are an emotion expert.")

    (completion,) = complete(model, prompt)

    assert completion.text == "1. a raised fist\n2. a broken vase"
    assert completion.finish_reason == "stop"
    (request,) = fake.requests
    assert request.provider == "openai" and request.model == "acme-large"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]
    assert request.body["messages"][1]["content"][1] == {"type": "text", "text": "Why is he angry?"}
    assert request.images == [("image/png", "iVBORyBmYWtlIGJ5dGVz")]  # base64 of the bytes
    assert (completion.input_tokens, completion.output_tokens) == (
        request.input_tokens,
        request.output_tokens,
    )


def test_a_batch_is_sent_as_concurrent_requests(model, fake, complete) -> None:
    fake.reset(answer=lambda request: request.body["messages"][0]["content"][0]["text"].upper())
    completions = complete(model, Prompt.user("one"), Prompt.user("two"), Prompt.user("three"))
    assert [c.text for c in completions] == ["ONE", "TWO", "THREE"]
    assert len(fake.requests) == 3


def test_a_server_error_fails_the_call(model, fake, complete) -> None:
    fake.reset([Reply.server_error(503)])
    with pytest.raises(urllib.error.HTTPError, match="503"):
        complete(model, Prompt.user("Why?"))


def test_without_a_key_the_error_names_the_variable(fake, complete, monkeypatch) -> None:
    monkeypatch.delenv("ACME_KEY_FOR_THIS_TEST", raising=False)
    config = AcmeChatConfig(base_url=fake.url + "/v1", api_key_env="ACME_KEY_FOR_THIS_TEST")
    with pytest.raises(RuntimeError, match=r"\$ACME_KEY_FOR_THIS_TEST"):
        complete(AcmeChat(config), Prompt.user("Why?"))
    assert fake.requests == []
