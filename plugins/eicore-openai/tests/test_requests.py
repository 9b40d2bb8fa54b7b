"""What goes over the wire, and what comes back: bodies, images, usage, the client's life."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from eicore_openai.config import OpenAIConfig
from eicore_openai.messages import TextOnlyModelError
from eicore_openai.model import OpenAIModel

from eicore import ConfigError, Prompt, read_image
from eicore.testing.api_runs import assert_one_client_per_instance, assert_usage_recorded
from eicore.testing.fake_api import FakeAPI, Reply
from eicore.testing.runs import png_named_jpg

QUESTION = "Why is the man in the image angry?"


def test_text_and_image_go_inline_with_the_media_type_of_the_bytes(
    fake: FakeAPI, model: Callable[..., OpenAIModel], complete: Callable, key: str, tmp_path: Path
) -> None:
    path = png_named_jpg(tmp_path)
    image = read_image(tmp_path, "photo.jpg")
    prompt = Prompt.user(image, QUESTION, system="Answer briefly.")

    (completion,) = complete(model(seed=7, system="You are careful."), prompt)

    (request,) = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {key}"
    body = request.body
    assert body["model"] == "gpt-4o"
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 512, 7)
    system, user = body["messages"]
    assert system == {"role": "system", "content": "You are careful.\n\nAnswer briefly."}
    image_part, text_part = user["content"]
    assert text_part == {"type": "text", "text": QUESTION}
    b64 = base64.b64encode(path.read_bytes()).decode()
    assert image_part == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}}
    assert completion.text == Reply().text


def test_usage_finish_reason_and_latency_are_recorded(
    fake: FakeAPI, model: Callable[..., OpenAIModel], complete: Callable
) -> None:
    assert_usage_recorded(fake, model(), complete, "length")


def test_text_only_model_sends_plain_text_and_refuses_images(
    fake: FakeAPI, model: Callable[..., OpenAIModel], complete: Callable, tmp_path: Path
) -> None:
    blind = model(vision=False)
    assert blind.accepts_images is False and model().accepts_images is True
    complete(blind, Prompt.user(QUESTION))
    assert fake.requests[0].body["messages"] == [{"role": "user", "content": QUESTION}]

    png_named_jpg(tmp_path)
    with pytest.raises(TextOnlyModelError, match="vision=false"):
        complete(model(vision=False), Prompt.user(read_image(tmp_path, "photo.jpg"), QUESTION))
    assert len(fake.requests) == 1


def test_one_client_per_instance_made_on_first_call_and_closed(
    fake: FakeAPI, model: Callable[..., OpenAIModel]
) -> None:
    assert_one_client_per_instance(model(), fake)


def test_a_missing_key_fails_at_construction_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIModel(OpenAIConfig())
    monkeypatch.setenv("MY_VLLM_API_KEY", "")
    with pytest.raises(ConfigError, match="MY_VLLM_API_KEY"):
        OpenAIModel(OpenAIConfig(api_key_env="MY_VLLM_API_KEY"))


def test_a_variable_eicore_would_not_mask_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_CREDS", "sk-test-0123456789")
    with pytest.raises(ConfigError, match="API_KEY"):
        OpenAIModel(OpenAIConfig(api_key_env="OPENAI_CREDS"))


def test_a_keyless_local_server_needs_no_variable(
    fake: FakeAPI, complete: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    local = OpenAIModel(OpenAIConfig(base_url=fake.url + "/v1", api_key_env=None))
    (completion,) = complete(local, Prompt.user(QUESTION))
    assert completion.text
    assert fake.requests[0].headers["authorization"] == "Bearer no-key"


def test_latency_covers_the_whole_call(complete: Callable, key: str) -> None:
    with FakeAPI(latency=0.2) as slow:
        instance = OpenAIModel(OpenAIConfig(base_url=slow.url + "/v1"))
        (completion,) = complete(instance, Prompt.user(QUESTION))
    assert 0.2 <= completion.latency_s < 1.0
