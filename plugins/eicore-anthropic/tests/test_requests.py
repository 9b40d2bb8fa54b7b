"""What goes over the wire, and what comes back: bodies, images, usage, the client's life."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from eicore_anthropic.config import AnthropicConfig
from eicore_anthropic.messages import TextOnlyModelError
from eicore_anthropic.model import AnthropicModel

from eicore import ConfigError, Prompt, read_image
from eicore.testing.api_runs import assert_one_client_per_instance, assert_usage_recorded
from eicore.testing.fake_api import FakeAPI, Reply
from eicore.testing.runs import png_named_jpg

QUESTION = "Why is the man in the image angry?"


def sent_key(headers: dict[str, str]) -> str:
    """The key as the SDK sent it (``x-api-key``, or a bearer token in newer SDKs)."""
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


def test_text_and_image_go_inline_with_the_media_type_of_the_bytes(
    fake: FakeAPI,
    model: Callable[..., AnthropicModel],
    complete: Callable,
    key: str,
    tmp_path: Path,
) -> None:
    path = png_named_jpg(tmp_path)
    image = read_image(tmp_path, "photo.jpg")
    prompt = Prompt.user(image, QUESTION, system="Answer briefly.")

    (completion,) = complete(model(system="You are careful."), prompt)

    (request,) = fake.requests
    assert request.path == "/v1/messages"
    assert sent_key(request.headers) == key
    body = request.body
    assert body["model"] == "claude-haiku-4-5"
    assert (body["temperature"], body["max_tokens"]) == (0.0, 512)
    assert body["system"] == "You are careful.\n\nAnswer briefly."
    (user,) = body["messages"]
    b64 = base64.b64encode(path.read_bytes()).decode()
    assert user == {
        "role": "user",
        "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64}},
            {"type": "text", "text": QUESTION},
        ],
    }
    assert completion.text == Reply().text


def test_usage_finish_reason_and_latency_are_recorded(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    assert_usage_recorded(fake, model(), complete, "max_tokens")


def test_text_only_model_sends_text_and_refuses_images(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable, tmp_path: Path
) -> None:
    blind = model(vision=False)
    assert blind.accepts_images is False and model().accepts_images is True
    complete(blind, Prompt.user(QUESTION))
    assert fake.requests[0].body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]}
    ]
    assert "system" not in fake.requests[0].body

    png_named_jpg(tmp_path)
    with pytest.raises(TextOnlyModelError, match="vision=false"):
        complete(model(vision=False), Prompt.user(read_image(tmp_path, "photo.jpg"), QUESTION))
    assert len(fake.requests) == 1


def test_one_client_per_instance_made_on_first_call_and_closed(
    fake: FakeAPI, model: Callable[..., AnthropicModel]
) -> None:
    assert_one_client_per_instance(model(), fake)


def test_a_missing_key_fails_at_construction_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        AnthropicModel(AnthropicConfig())
    monkeypatch.setenv("TEAM_CLAUDE_API_KEY", "  ")
    with pytest.raises(ConfigError, match="TEAM_CLAUDE_API_KEY"):
        AnthropicModel(AnthropicConfig(api_key_env="TEAM_CLAUDE_API_KEY"))


def test_a_variable_eicore_would_not_mask_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CREDS", "sk-ant-test-0123456789")
    with pytest.raises(ConfigError, match="API_KEY"):
        AnthropicModel(AnthropicConfig(api_key_env="CLAUDE_CREDS"))


def test_temperature_goes_in_the_body_and_null_leaves_it_out(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    complete(model(temperature=0.3), Prompt.user(QUESTION))
    complete(model(temperature=None), Prompt.user(QUESTION))
    first, second = fake.requests
    assert first.body["temperature"] == 0.3
    assert "temperature" not in second.body
    assert model().cacheable and not model(temperature=None).cacheable
