"""The fake's batch endpoints, driven by the real SDKs: OpenAI's Batch API (a JSONL file, a batch
over it, output and error files) and Anthropic's Message Batches; what they accept, what they
refuse, and a test's control over when a batch ends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from eicore.testing.fake_api import FakeAPI, Received, Reply

KEY = "sk-test-BATCHKEY-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with FakeAPI() as server:
        yield server


def openai_client(fake: FakeAPI) -> openai.OpenAI:
    return openai.OpenAI(api_key=KEY, base_url=fake.url + "/v1", max_retries=0)


def anthropic_client(fake: FakeAPI) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=KEY, base_url=fake.url, max_retries=0)


def chat(question: str, model: str = "gpt-4o") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": question}], "max_tokens": 50}


def jsonl(*lines: Any) -> bytes:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


def line(custom_id: str, body: dict[str, Any], url: str = "/v1/chat/completions") -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def openai_batch(client: openai.OpenAI, data: bytes) -> Any:
    upload = client.files.create(file=("requests.jsonl", data), purpose="batch")
    return client.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
    )


def params(question: str) -> dict[str, Any]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": question}],
    }


def by_question(request: Received) -> Reply | str:
    text = json.dumps(request.body)
    if "fails" in text:
        return Reply("upstream failure", status=500)
    if "expires" in text:
        return Reply.expired()
    return "1. A raised fist"


# -- OpenAI -------------------------------------------------------------------------------------
def test_openai_batch_validates_runs_and_returns_output_and_error_files(fake: FakeAPI) -> None:
    fake.reset(answer=by_question)
    client = openai_client(fake)
    data = jsonl(line("a", chat("why a?")), line("b", chat("why fails?")),
                 line("c", chat("why expires?")))  # fmt: skip
    batch = openai_batch(client, data)
    assert (batch.status, batch.endpoint, batch.completion_window) == (
        "validating", "/v1/chat/completions", "24h",
    )  # fmt: skip
    statuses = [client.batches.retrieve(batch.id).status for _ in range(2)]
    assert statuses == ["in_progress", "completed"]
    done = client.batches.retrieve(batch.id)
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (3, 1)
    assert done.request_counts.failed == 2
    assert done.output_file_id and done.error_file_id
    output = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    errors = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
    (answered,) = output
    assert answered["custom_id"] == "a" and answered["response"]["status_code"] == 200
    assert answered["response"]["body"]["choices"][0]["message"]["content"] == "1. A raised fist"
    failed = {e["custom_id"]: e for e in errors}
    assert failed["b"]["response"]["status_code"] == 500
    assert failed["c"]["response"] is None and failed["c"]["error"]["code"] == "batch_expired"
    # each line was answered as a request of its own, logged with the batch's id
    lines = [r for r in fake.requests if r.batch == batch.id]
    assert sorted(r.body["messages"][0]["content"] for r in lines) == [
        "why a?", "why expires?", "why fails?",
    ]  # fmt: skip
    assert all(r.path == "/v1/chat/completions" and KEY in str(r.headers) for r in lines)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (jsonl(line("a", chat("x")), line("a", chat("y"))), "duplicate_custom_id"),
        (jsonl(line("a", chat("x")), '{"custom_id": "b", "method": "PO'), "invalid_json_line"),
        (jsonl(line("a", chat("x"), url="/v1/embeddings")), "mismatched_endpoint"),
        (
            jsonl({"method": "POST", "url": "/v1/chat/completions", "body": chat("x")}),
            "missing_required_parameter",
        ),  # fmt: skip
        (
            jsonl(line("a", chat("x")), line("b", chat("y", model="gpt-4o-mini"))),
            "mismatched_model",
        ),  # fmt: skip
    ],
)
def test_openai_a_batch_of_bad_lines_fails_validation_and_runs_nothing(
    fake: FakeAPI, data: bytes, code: str
) -> None:
    client = openai_client(fake)
    batch = openai_batch(client, data)
    failed = client.batches.retrieve(batch.id)
    assert failed.status == "failed"
    assert failed.errors is not None and code in [e.code for e in failed.errors.data or []]
    assert client.batches.retrieve(batch.id).status == "failed"  # and stays failed
    assert not [r for r in fake.requests if r.batch]


def test_openai_refuses_what_the_batch_api_refuses(fake: FakeAPI) -> None:
    client = openai_client(fake)
    upload = client.files.create(file=("r.jsonl", jsonl(line("a", chat("x")))), purpose="batch")
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client.files.create(file=("r.jsonl", b"{}"), purpose="fine-tune")
    with pytest.raises(openai.NotFoundError, match="file-nope"):
        client.batches.create(
            input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h"
        )
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        client.batches.create(
            input_file_id=upload.id, endpoint="/v1/nowhere",  # type: ignore[arg-type]
            completion_window="24h",
        )  # fmt: skip
    with pytest.raises(openai.BadRequestError, match="completion_window"):
        client.batches.create(
            input_file_id=upload.id, endpoint="/v1/chat/completions",
            completion_window="1h",  # type: ignore[arg-type]
        )  # fmt: skip
    with pytest.raises(openai.NotFoundError, match="batch_nope"):
        client.batches.retrieve("batch_nope")
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-nope")
    assert fake.batches == []


# -- Anthropic ----------------------------------------------------------------------------------
def test_message_batch_runs_and_streams_results_by_custom_id(fake: FakeAPI) -> None:
    fake.reset(answer=by_question)
    client = anthropic_client(fake)
    extra = {**params("why sdk-only?"), "extra_body": {"temperature": 0}}
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "a", "params": params("why a?")},
            {"custom_id": "b", "params": params("why fails?")},
            {"custom_id": "c", "params": params("why expires?")},
            {"custom_id": "d", "params": extra},  # type: ignore[typeddict-item]
        ]
    )
    assert batch.processing_status == "in_progress" and batch.request_counts.processing == 4
    with pytest.raises(anthropic.AnthropicError, match="results_url"):
        client.messages.batches.results(batch.id)  # not ended yet
    assert client.messages.batches.retrieve(batch.id).processing_status == "ended"
    ended = client.messages.batches.retrieve(batch.id)
    counts = ended.request_counts
    assert (counts.succeeded, counts.errored, counts.expired, counts.processing) == (1, 2, 1, 0)
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
    assert results["a"].type == "succeeded"
    assert results["a"].message.content[0].text == "1. A raised fist"  # type: ignore[union-attr]
    assert results["b"].type == "errored" and results["b"].error.error.type == "api_error"
    assert results["c"].type == "expired"
    # a key the SDK takes but the API does not is refused in the request's result
    assert results["d"].type == "errored"
    assert "extra_body" in results["d"].error.error.message  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("requests", "says"),
    [
        (
            [{"custom_id": "a", "params": params("x")}, {"custom_id": "a", "params": params("y")}],
            "not unique",
        ),  # fmt: skip
        ([{"custom_id": "has space", "params": params("x")}], "pattern"),
        ([{"custom_id": "x" * 65, "params": params("x")}], "pattern"),
        ([{"custom_id": "a"}], "params: Field required"),
        ([], "requests"),
    ],
)
def test_message_batches_refuse_what_the_api_refuses(
    fake: FakeAPI, requests: list[Any], says: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=says):
        anthropic_client(fake).messages.batches.create(requests=requests)
    assert fake.batches == []


def test_an_unknown_message_batch_is_404(fake: FakeAPI) -> None:
    client = anthropic_client(fake)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_nope")


# -- control ------------------------------------------------------------------------------------
def test_a_held_batch_stays_in_progress_until_released(fake: FakeAPI) -> None:
    fake.hold_batches = True
    client = anthropic_client(fake)
    batch = client.messages.batches.create(requests=[{"custom_id": "a", "params": params("x")}])
    for _ in range(5):
        assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    assert not [r for r in fake.requests if r.batch]  # nothing answered while held
    fake.release_batches()
    assert client.messages.batches.retrieve(batch.id).processing_status == "ended"
    (created,) = fake.batches
    assert (created.id, created.status, list(created.requests)) == (batch.id, "ended", ["a"])


def test_wait_for_request_wakes_on_the_request_it_waits_for(fake: FakeAPI) -> None:
    fake.hold_batches = True
    client = openai_client(fake)
    batch = openai_batch(client, jsonl(line("a", chat("x"))))
    checker = threading.Thread(target=client.batches.retrieve, args=(batch.id,))
    checker.start()
    seen = fake.wait_for_request(lambda r: r.method == "GET" and batch.id in r.path)
    checker.join()
    assert seen.path == f"/v1/batches/{batch.id}"
    with pytest.raises(TimeoutError):
        fake.wait_for_request(lambda r: r.path == "/never", timeout=0.05)
