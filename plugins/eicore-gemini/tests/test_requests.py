"""What goes over the wire, and what comes back: bodies, images, usage, the client's life."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from eicore_gemini.config import GeminiConfig
from eicore_gemini.model import GeminiModel, api_version
from google.genai import errors

from eicore import ConfigError, Prompt
from eicore.testing.api_runs import QUESTION, APIModelRequestTests, OnTheFake
from eicore.testing.fake_api import FakeAPI


class TestRequests(APIModelRequestTests):
    """The shared request tests; the plugin is the conftest's ``api_plugin``."""


def texts(content: dict) -> list[str]:
    return [p["text"] for p in content["parts"] if "text" in p]


def test_text_and_image_go_inline_with_the_media_type_of_the_bytes(
    api: OnTheFake, key: str, tmp_path: Path
) -> None:
    request, _ = api.ask_with_image(tmp_path, seed=7, system="You are careful.")
    assert request.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert request.headers["x-goog-api-key"] == key
    body = request.body
    (user,) = body["contents"]
    assert user["role"] == "user" and texts(user) == [QUESTION]
    assert "inlineData" in user["parts"][0]  # the image first, as in the prompt
    assert texts(body["systemInstruction"]) == ["You are careful.\n\nAnswer briefly."]
    generation = body["generationConfig"]
    assert (generation["temperature"], generation["maxOutputTokens"], generation["seed"]) == (
        0.0, 512, 7
    )  # fmt: skip


def test_a_text_only_model_sends_text(
    fake: FakeAPI, model: Callable[..., GeminiModel], complete: Callable
) -> None:
    complete(model(vision=False), Prompt.user(QUESTION))
    (user,) = fake.requests[0].body["contents"]
    assert texts(user) == [QUESTION] and fake.requests[0].images == []
    assert "systemInstruction" not in fake.requests[0].body


def test_google_api_key_is_a_variable_it_reads_too() -> None:
    with pytest.raises(ConfigError, match="GOOGLE_API_KEY"):  # unset by the test fixtures
        GeminiModel(GeminiConfig(api_key_env="GOOGLE_API_KEY"))


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
