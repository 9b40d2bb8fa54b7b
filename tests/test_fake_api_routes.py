"""The fake API answers only the paths real servers of each wire format answer."""

from __future__ import annotations

import http.client
import json

import pytest

from eicore.testing.fake_api import FakeAPI

SERVED = {
    "/v1/messages": "anthropic",
    "/v1/chat/completions": "openai",
    "/v1beta/models/gemini-2.5-flash:generateContent": "gemini",
}
NOT_SERVED = (
    "/v1/models/gemini-2.5-flash:generateContent",  # google-genai's default with a base_url
    "/models/gemini-2.5-flash:generateContent",
    "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    "/chat/completions",  # an OpenAI base_url without /v1
    "/openai/v1/chat/completions",
    "/v1/v1/chat/completions",
    "/messages",
    "/v1/messages/batches/msgbatch_x/cancel",
    "/v1/batches/batch_x/cancel",
)
REFUSED = {  # batch endpoints: served, but a chat body is not what they take
    "/v1/messages/batches": "requests: Field required",
    "/v1/batches": "Missing required parameter: 'input_file_id'",
}


def post(fake: FakeAPI, path: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "Why?"}]})
    connection.request("POST", path, body, {"content-type": "application/json"})
    response = connection.getresponse()
    status, data = response.status, json.loads(response.read())
    connection.close()
    return status, data


@pytest.fixture(scope="module")
def fake():
    with FakeAPI() as server:
        yield server


@pytest.mark.parametrize("path", SERVED)
def test_each_provider_path_is_answered(fake: FakeAPI, path: str) -> None:
    status, _ = post(fake, path)
    assert status == 200
    assert fake.requests[-1].provider == SERVED[path]


@pytest.mark.parametrize("path", NOT_SERVED)
def test_any_other_path_is_404_and_logged(fake: FakeAPI, path: str) -> None:
    status, data = post(fake, path)
    assert status == 404 and path in data["error"]["message"]
    last = fake.requests[-1]
    assert (last.path, last.provider, last.reply) == (path, None, None)


@pytest.mark.parametrize("path", REFUSED)
def test_a_chat_body_posted_to_a_batch_endpoint_is_refused_as_the_api_refuses_it(
    fake: FakeAPI, path: str
) -> None:
    status, data = post(fake, path)
    assert status == 400 and REFUSED[path] in data["error"]["message"]
    assert fake.requests[-1].provider == ("anthropic" if "messages" in path else "openai")
