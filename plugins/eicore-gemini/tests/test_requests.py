"""What goes over the wire, and what comes back: bodies, images, usage, the client's life."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from eicore_gemini.config import GeminiConfig
from eicore_gemini.contents import TextOnlyModelError
from eicore_gemini.model import GeminiModel, api_version
from google.genai import errors

from eicore import ConfigError, Prompt, read_image
from eicore.testing.api_runs import assert_one_client_per_instance, assert_usage_recorded
from eicore.testing.fake_api import FakeAPI, Reply
from eicore.testing.runs import png_named_jpg

QUESTION = "Why is the man in the image angry?"


def texts(content: dict) -> list[str]:
    return [p["text"] for p in content["parts"] if "text" in p]


def test_text_and_image_go_inline_with_the_media_type_of_the_bytes(
    fake: FakeAPI, model: Callable[..., GeminiModel], complete: Callable, key: str, tmp_path: Path
) -> None:
    path = png_named_jpg(tmp_path)
    image = read_image(tmp_path, "photo.jpg")
    prompt = Prompt.user(image, QUESTION, system="Answer briefly.")

    (completion,) = complete(model(seed=7, system="You are careful."), prompt)

    (request,) = fake.requests
    assert request.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert request.headers["x-goog-api-key"] == key
    body = request.body
    (user,) = body["contents"]
    assert user["role"] == "user" and texts(user) == [QUESTION]
    assert request.images == [("image/png", base64.b64encode(path.read_bytes()).decode())]
    assert "inlineData" in user["parts"][0]  # the image first, as in the prompt
    assert texts(body["systemInstruction"]) == ["You are careful.\n\nAnswer briefly."]
    generation = body["generationConfig"]
    assert (generation["temperature"], generation["maxOutputTokens"], generation["seed"]) == (
        0.0, 512, 7
    )  # fmt: skip
    assert completion.text == Reply().text


def test_usage_finish_reason_and_latency_are_recorded(
    fake: FakeAPI, model: Callable[..., GeminiModel], complete: Callable
) -> None:
    assert_usage_recorded(fake, model(), complete, "MAX_TOKENS")


def test_text_only_model_sends_text_and_refuses_images(
    fake: FakeAPI, model: Callable[..., GeminiModel], complete: Callable, tmp_path: Path
) -> None:
    blind = model(vision=False)
    assert blind.accepts_images is False and model().accepts_images is True
    complete(blind, Prompt.user(QUESTION))
    (user,) = fake.requests[0].body["contents"]
    assert texts(user) == [QUESTION] and fake.requests[0].images == []
    assert "systemInstruction" not in fake.requests[0].body

    png_named_jpg(tmp_path)
    with pytest.raises(TextOnlyModelError, match="vision=false"):
        complete(model(vision=False), Prompt.user(read_image(tmp_path, "photo.jpg"), QUESTION))
    assert len(fake.requests) == 1


def test_one_client_per_instance_made_on_first_call_and_closed(
    fake: FakeAPI, model: Callable[..., GeminiModel]
) -> None:
    assert_one_client_per_instance(model(), fake)


def test_a_missing_key_fails_at_construction_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        GeminiModel(GeminiConfig())
    with pytest.raises(ConfigError, match="GOOGLE_API_KEY"):
        GeminiModel(GeminiConfig(api_key_env="GOOGLE_API_KEY"))


def test_a_variable_eicore_would_not_mask_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_CREDS", "AIza-test-0123456789")
    with pytest.raises(ConfigError, match="API_KEY"):
        GeminiModel(GeminiConfig(api_key_env="GEMINI_CREDS"))


def test_a_custom_base_url_gets_v1beta_and_an_explicit_version_is_sent_as_given(
    fake: FakeAPI, model: Callable[..., GeminiModel], complete: Callable
) -> None:
    """With a base_url the SDK alone would post to ``/v1``, which gateways answer with 404/405."""
    assert api_version(GeminiConfig()) is None  # Google's endpoint: the SDK's own choice
    assert api_version(GeminiConfig(base_url=fake.url)) == "v1beta"
    assert api_version(GeminiConfig(base_url=fake.url, api_version="v1")) == "v1"
    with pytest.raises(errors.ClientError, match="404"):
        complete(model(api_version="v1"), Prompt.user(QUESTION))
    (request,) = fake.requests
    assert request.path == "/v1/models/gemini-2.5-flash:generateContent"
