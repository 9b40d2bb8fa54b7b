"""What goes over the wire, and what comes back: bodies, images, usage, the client's life."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from eicore_anthropic.model import AnthropicModel

from eicore import Prompt
from eicore.testing.api_runs import QUESTION, APIModelRequestTests, OnTheFake
from eicore.testing.fake_api import FakeAPI


class TestRequests(APIModelRequestTests):
    """The shared request tests; the plugin is the conftest's ``api_plugin``."""


def sent_key(headers: dict[str, str]) -> str:
    """The key as the SDK sent it (``x-api-key``, or a bearer token in newer SDKs)."""
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


def test_text_and_image_go_inline_with_the_media_type_of_the_bytes(
    api: OnTheFake, key: str, tmp_path: Path
) -> None:
    request, b64 = api.ask_with_image(tmp_path, system="You are careful.")
    assert request.path == "/v1/messages"
    assert sent_key(request.headers) == key
    body = request.body
    assert body["model"] == "claude-haiku-4-5"
    assert (body["temperature"], body["max_tokens"]) == (0.0, 512)
    assert body["system"] == "You are careful.\n\nAnswer briefly."
    (user,) = body["messages"]
    assert user == {
        "role": "user",
        "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64}},
            {"type": "text", "text": QUESTION},
        ],
    }


def test_a_text_only_model_sends_text(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    complete(model(vision=False), Prompt.user(QUESTION))
    assert fake.requests[0].body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]}
    ]
    assert "system" not in fake.requests[0].body


def test_temperature_goes_in_the_body_and_null_leaves_it_out(
    fake: FakeAPI, model: Callable[..., AnthropicModel], complete: Callable
) -> None:
    complete(model(temperature=0.3), Prompt.user(QUESTION))
    complete(model(temperature=None), Prompt.user(QUESTION))
    first, second = fake.requests
    assert first.body["temperature"] == 0.3
    assert "temperature" not in second.body
    assert model().cacheable and not model(temperature=None).cacheable
