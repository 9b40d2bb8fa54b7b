"""What goes over the wire, and what comes back: bodies, images, usage, the client's life."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from eicore_openai.config import OpenAIConfig
from eicore_openai.model import OpenAIModel

from eicore import Prompt
from eicore.testing.api_runs import QUESTION, APIModelRequestTests, OnTheFake
from eicore.testing.fake_api import FakeAPI


class TestRequests(APIModelRequestTests):
    """The shared request tests; the plugin is the conftest's ``api_plugin``."""


def test_text_and_image_go_inline_with_the_media_type_of_the_bytes(
    api: OnTheFake, key: str, tmp_path: Path
) -> None:
    request, b64 = api.ask_with_image(tmp_path, seed=7, system="You are careful.")
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {key}"
    body = request.body
    assert body["model"] == "gpt-4o"
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 512, 7)
    system, user = body["messages"]
    assert system == {"role": "system", "content": "You are careful.\n\nAnswer briefly."}
    image_part, text_part = user["content"]
    assert text_part == {"type": "text", "text": QUESTION}
    assert image_part == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}}


def test_a_text_only_model_sends_plain_text(
    fake: FakeAPI, model: Callable[..., OpenAIModel], complete: Callable
) -> None:
    complete(model(vision=False), Prompt.user(QUESTION))
    assert fake.requests[0].body["messages"] == [{"role": "user", "content": QUESTION}]


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
