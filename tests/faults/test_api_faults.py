"""API faults across a whole run: the ``openai`` plugin against the fake API, each sample meeting
one fault (bursts of 429 with Retry-After, 500s, connection resets, responses that never finish,
truncated and malformed JSON, empty content, a refusal, errors echoing the request with the key).

Every sample ends exactly once, answered or failed with the fault's error; once the faults are
over, rerunning the same command asks only about the failed samples and finishes the run. No key
byte reaches the run directory, the cache, the log or the command's output.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from eicore_test_support import CLI, Result, leaks, only_run_dir, read_json, read_jsonl

from eicore.datasets.samples import DataConfig, load_basic, select
from eicore.testing.fake_api import FakeAPI, Received, Reply
from eicore.types import Sample

KEY = f"sk-faults-{secrets.token_hex(20)}"


@dataclass(frozen=True)
class Fault:
    """What the fake does to one sample's requests, and how the sample ends in the first run."""

    name: str
    replies: tuple[Callable[[], Reply], ...]
    """The replies to the first requests; later requests are answered."""
    persistent: bool = False
    """Every request of the first run gets ``replies[0]``."""
    error: str | None = None
    """The error type the sample fails with, or None when it is answered."""


def echoing_500() -> Reply:
    return Reply("upstream failure", status=500, echo_headers=True, headers={"retry-after-ms": "1"})


FAULTS = (
    Fault("none", ()),
    Fault("429 burst, Retry-After", (lambda: Reply.rate_limited(None, "0.05"),) * 3),
    Fault("500 twice", (Reply.server_error, Reply.server_error)),
    Fault("connection reset", (Reply.connection_reset,)),
    Fault("never finishes", (Reply.stalled,)),
    Fault("truncated JSON", (Reply.truncated,)),
    Fault("500 echoing the key, always", (echoing_500,), True, "InternalServerError"),
    Fault("connection reset, always", (Reply.connection_reset,), True, "APIConnectionError"),
    Fault("never finishes, always", (Reply.stalled,), True, "APITimeoutError"),
    Fault("malformed JSON body", (Reply.malformed,), error="JSONDecodeError"),
    Fault("empty content", (Reply.empty,), error="EmptyAnswerError"),
    Fault("refusal", (Reply.refusal,), error="RefusalError"),
)
ANSWER = "1. The man is shouting\n2. A raised fist"


class FaultPlan:
    """The fake's answer function: each sample meets the fault of its index (modulo FAULTS)."""

    def __init__(self, samples: list[Sample]) -> None:
        self.fault = {s.question: FAULTS[i % len(FAULTS)] for i, s in enumerate(samples)}
        self.tries: Counter[str] = Counter()
        self.over = False
        """After the first run: every request answered."""

    def question_of(self, request: Received) -> str:
        text = json.dumps(request.body)
        (question,) = [q for q in self.fault if json.dumps(q)[1:-1] in text]
        return question

    def __call__(self, request: Received) -> Reply | str:
        question = self.question_of(request)
        self.tries[question] += 1
        fault, attempt = self.fault[question], self.tries[question]
        if self.over or not fault.replies:
            return ANSWER
        if fault.persistent:
            return fault.replies[0]()
        return fault.replies[attempt - 1]() if attempt <= len(fault.replies) else ANSWER


@dataclass
class Runs:
    first: Result
    second: Result
    plan: FaultPlan
    samples: list[Sample]
    first_records: list[dict]
    served_first: list[Received]
    served_second: list[Received]
    run_dir: Path
    cache: Path


@pytest.fixture(scope="module")
def runs(echo_site: Path, eibench_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    folder = tmp_path_factory.mktemp("api-faults")
    (folder / "cwd").mkdir()
    cli = CLI([echo_site], folder / "cache", folder / "cwd")
    basic = load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json")
    samples = select(basic, DataConfig(shard="2/80"))
    plan = FaultPlan(samples)
    with FakeAPI(answer=plan) as fake:
        args = (
            "model=openai", f"model.base_url={fake.url}/v1", "model.vision=false",
            "model.timeout=0.5", "model.max_retries=3", "judge=keyword",
            "metrics=[trigger_recall]", f"data.root={eibench_dir}", "data.shard=2/80",
            f"run.root={folder / 'runs'}", "run.concurrency=8",
        )  # fmt: skip
        env = {"OPENAI_API_KEY": KEY}
        first = cli.run(*args, env=env, timeout=180)
        run_dir = only_run_dir(folder / "runs")
        first_records = read_jsonl(run_dir / "records.jsonl")
        served_first = fake.requests
        plan.over = True
        second = cli.run(*args, env=env, timeout=180)
        served_second = fake.requests[len(served_first) :]
    return Runs(
        first, second, plan, samples, first_records, served_first, served_second, run_dir,
        cli.cache,
    )  # fmt: skip


def test_every_sample_ends_once_answered_or_failed_with_its_fault(runs: Runs) -> None:
    by_id = {r["sample"]["id"]: r for r in runs.first_records}
    assert len(runs.first_records) == len(by_id) == len(runs.samples) == 21
    for sample in runs.samples:
        fault = runs.plan.fault[sample.question]
        record = by_id[sample.id]
        if fault.error is None:
            assert record["status"] == "answered", (fault.name, record["error"])
            assert record["response"]["text"] == ANSWER
        else:
            assert (record["status"], record["error_type"]) == ("failed", fault.error), fault.name
            assert record["error"], fault.name
    assert "Traceback" not in runs.first.stderr


def test_retries_are_bounded(runs: Runs) -> None:
    first = Counter(runs.plan.question_of(r) for r in runs.served_first)
    for question, fault in runs.plan.fault.items():
        if fault.persistent:
            assert first[question] == 4, fault.name  # the first try and max_retries=3
        elif fault.error is None:
            assert first[question] == len(fault.replies) + 1, fault.name
        else:
            assert first[question] == 1, fault.name  # not retried: a bad answer, not a fault


def test_the_rerun_asks_only_about_failed_samples_and_finishes(runs: Runs) -> None:
    failed = {s.question for s in runs.samples if runs.plan.fault[s.question].error}
    asked = Counter(runs.plan.question_of(r) for r in runs.served_second)
    assert set(asked) == failed and set(asked.values()) == {1}
    assert f"resuming: {21 - len(failed)} of 21" in runs.second.stderr
    records = read_jsonl(runs.run_dir / "records.jsonl")
    assert sorted(r["sample"]["id"] for r in records) == sorted(s.id for s in runs.samples)
    assert {r["status"] for r in records} == {"answered"}
    metrics = read_json(runs.run_dir / "metrics.json")
    assert (metrics["n_answered"], metrics["n_failed"], metrics["complete"]) == (21, 0, True)
    assert metrics["calls_made"] == 21  # one successful call per sample, across both runs


def test_the_key_reaches_no_file_log_or_output(runs: Runs) -> None:
    echoed = [r for r in runs.served_first if r.reply and r.reply.echo_headers]
    assert echoed and all(KEY in str(r.headers) for r in echoed)  # sent, and echoed back
    failed = [r for r in runs.first_records if r["error_type"] == "InternalServerError"]
    assert failed and all("***" in r["error"] for r in failed)  # the echo, masked
    outputs = (runs.first.stdout, runs.first.stderr, runs.second.stdout, runs.second.stderr)
    assert leaks(KEY, runs.run_dir, runs.cache, texts=outputs) == []
    assert (runs.run_dir / "run.log").stat().st_size > 0
