"""Shared tests for API model plugins: ``eicore run model=<plugin>`` end to end against the
:class:`~eicore.testing.fake_api.FakeAPI`, in a subprocess like a user's run.

One run of EIBench's first 4 samples (synthetic images, the semantic judge) in which the fake
answers the first sample, rate-limits the second once, fails the third with 500s that echo the
request headers (the key among them) until retries run out, and refuses the fourth.

A plugin's ``tests/test_run.py`` subclasses :class:`APIModelRunTests` as ``TestRun`` and sets
the class attributes; its conftest provides the ``eibench`` fixture
(:mod:`eicore.testing.pytest_plugin`). A plugin with a batch API subclasses
:class:`APIModelBatchTests` as ``TestBatch`` too: ``model.batch_api=true`` runs, retries, a
killed run and Ctrl-C while a batch is pending.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from eicore import Completion, Prompt
from eicore.testing.fake_api import FakeAPI, Received, Reply
from eicore.testing.runs import (
    eibench_questions,
    files_holding,
    read_json,
    read_jsonl,
    run_eicore,
    start_eicore,
    synthetic_images,
)


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    run_dir: Path
    cache: Path
    served: list[Received]
    images: list[str]
    """EIBench paths of the 4 samples, in order."""
    media_types: dict[str, str]
    tries: dict[str, int]

    @property
    def metrics(self) -> dict[str, Any]:
        metrics: dict[str, Any] = read_json(self.run_dir / "metrics.json")
        return metrics


def sample_of(request: Received, questions: dict[str, str]) -> str:
    """The image path of the sample whose question ``request`` carries."""
    text = json.dumps(request.body)
    (image,) = [i for i, q in questions.items() if json.dumps(q)[1:-1] in text]
    return image


class APIModelRunTests:
    """End-to-end tests of an API model plugin; subclass as ``TestRun`` and set these."""

    MODEL: ClassVar[str]
    """The model's registered name (``model=...``)."""
    URL_SUFFIX: ClassVar[str] = ""
    """Appended to the fake's URL for ``model.base_url``."""
    KEY_ENV: ClassVar[str]
    KEY: ClassVar[str]
    """A fake key, set in ``KEY_ENV`` for the run; no file or log may hold it."""
    SERVER_ERROR: ClassVar[str]
    """The provider SDK's error class name for a 500."""
    REFUSAL_REASON: ClassVar[str]
    """What the recorded error of a refused sample says."""

    @pytest.fixture(scope="class")
    @classmethod
    def run(cls, eibench: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
        folder = tmp_path_factory.mktemp("run")
        media_types = synthetic_images(eibench, folder / "images")
        questions = eibench_questions(eibench, 4)
        paths = list(questions)
        tries = dict.fromkeys(paths, 0)

        def answer(request: Received) -> Reply | str:
            image = sample_of(request, questions)
            tries[image] += 1
            if image == paths[1] and tries[image] == 1:
                return Reply.rate_limited(retry_after_ms=5)
            if image == paths[2]:
                return Reply("upstream failure", status=500, echo_headers=True,
                             headers={"retry-after-ms": "5"})  # fmt: skip
            if image == paths[3]:
                return Reply.refusal()
            return "1. The man is shouting\n2. A raised fist"

        with FakeAPI(answer=answer) as fake:
            result = run_eicore(
                f"model={cls.MODEL}", f"model.base_url={fake.url}{cls.URL_SUFFIX}",
                "model.max_retries=2", f"data.root={eibench}",
                f"data.image_root={folder / 'images'}", "data.limit=4", "judge=semantic",
                folder=folder, env={cls.KEY_ENV: cls.KEY},
            )  # fmt: skip
            served = fake.requests
        assert result.returncode == 0, result.stderr[-3000:]
        (run_dir,) = (folder / "runs").iterdir()
        yield Run(result, run_dir, folder / "cache", served, paths, media_types, tries)

    def test_answered_samples_are_predicted_and_scored(self, run: Run) -> None:
        assert f"| {self.MODEL} / direct / basic |" in run.result.stdout
        # one line per sample, in data order: the failed samples' answers are empty
        predicted = [next(iter(p.items())) for p in read_jsonl(run.run_dir / "predictions.jsonl")]
        assert [image for image, _ in predicted] == run.images
        assert [bool(answer) for _, answer in predicted] == [True, True, False, False]
        assert run.metrics["recall"]["n_scored"] == 2

    def test_failed_samples_are_recorded_with_the_provider_error_and_the_run_goes_on(
        self, run: Run
    ) -> None:
        metrics = run.metrics
        assert (metrics["n_answered"], metrics["n_failed"]) == (2, 2)
        assert metrics["errors"] == dict(sorted({self.SERVER_ERROR: 1, "RefusalError": 1}.items()))
        # the 429 retried; the 500 tried 1 + 2 times
        assert run.tries == dict(zip(run.images, [1, 2, 3, 1], strict=True))
        records = read_jsonl(run.run_dir / "records.jsonl")
        failed = {r["sample"]["image"]: r["error"] for r in records if r["status"] == "failed"}
        assert (
            "500" in failed[run.images[2]] and "***" in failed[run.images[2]]
        )  # the echoed key, masked
        assert self.REFUSAL_REASON in failed[run.images[3]]

    def test_usage_of_the_answers_and_the_refusal_is_summed_into_metrics(self, run: Run) -> None:
        served = [(r, r.reply) for r in run.served if r.reply is not None]
        answered = [(r, reply) for r, reply in served if reply.status == 200]
        answers = [r for r, _ in answered]  # the refusal was billed too
        (refusal,) = [r for r, reply in answered if reply.finish == "refusal"]
        assert len(answers) == 3 and refusal.input_tokens > 0 and refusal.output_tokens > 0
        tokens = run.metrics["tokens"]
        assert tokens == {
            "input": sum(r.input_tokens for r in answers),
            "output": sum(r.output_tokens for r in answers),
        }
        assert run.metrics["calls_made"] == 3
        records = read_jsonl(run.run_dir / "records.jsonl")
        (refused,) = [r for r in records if r["sample"]["image"] == run.images[3]]
        (call,) = refused["response"]["trace"]
        assert refused["status"] == "failed" and call["cached"] is False
        usage = call["completion"]["input_tokens"], call["completion"]["output_tokens"]
        assert usage == (refusal.input_tokens, refusal.output_tokens)

    def test_images_go_out_with_the_media_type_of_their_bytes(
        self, run: Run, eibench: Path
    ) -> None:
        questions = eibench_questions(eibench, 4)
        sent = {sample_of(r, questions): [m for m, _ in r.images] for r in run.served}
        assert sent == {image: [media] for image, media in run.media_types.items()}

    def test_the_key_reaches_no_file_and_no_log(self, run: Run) -> None:
        assert any(self.KEY in str(r.headers) for r in run.served)  # it was sent, and echoed back
        assert files_holding(self.KEY, run.run_dir, run.cache) == []
        assert (run.run_dir / "run.log").is_file()
        assert self.KEY not in run.result.stdout + run.result.stderr

    def test_a_missing_key_stops_the_run_before_any_call(
        self, eibench: Path, tmp_path: Path
    ) -> None:
        with FakeAPI() as fake:
            result = run_eicore(
                f"model={self.MODEL}", f"model.base_url={fake.url}{self.URL_SUFFIX}",
                f"data.root={eibench}", f"data.image_root={tmp_path}", "data.limit=4",
                folder=tmp_path, env={},
            )  # fmt: skip
            assert fake.requests == []
        assert result.returncode == 2, result.stderr[-3000:]
        assert self.KEY_ENV in result.stderr and "Traceback" not in result.stderr


def assert_one_client_per_instance(instance: Any, fake: FakeAPI) -> None:
    """``instance`` (an API model on ``fake``, not yet used) makes one client on its first call,
    keeps it across calls, and drops it on ``aclose``."""
    assert instance._client is None

    async def calls() -> tuple[object, object]:
        await instance.generate([Prompt.user("a"), Prompt.user("b")])
        first = instance._client
        await instance.generate([Prompt.user("c")])
        second = instance._client
        await instance.aclose()
        return first, second

    first, second = asyncio.run(calls())
    assert first is not None and first is second
    assert instance._client is None
    assert len(fake.requests) == 3


PROMPT = Prompt.user("Why is the woman in the image so happy?")


class APIModelFailureTests:
    """Failures the server can cause, and the model's retries; subclass as ``TestFailures``.

    Needs the ``fake``, ``complete`` and ``model`` (``model(**config fields)``) fixtures."""

    RETRY_SLEEP: ClassVar[str] = "anyio.sleep"
    """The function the model's retries wait with (the SDK's, or the plugin's own): the tests
    record what each retry asks it to wait, instead of timing the calls."""
    SERVER_ERROR: ClassVar[type[BaseException]]
    """What a 500 raises once the retries have run out."""
    TIMEOUT_ERROR: ClassVar[type[BaseException]]
    CONNECTION_ERROR: ClassVar[type[BaseException]]
    """What a truncated body raises once the retries have run out."""

    @pytest.fixture
    def retry_waits(self, monkeypatch: pytest.MonkeyPatch) -> list[float]:
        """The seconds each retry waits, as asked of :attr:`RETRY_SLEEP` (it still waits)."""
        module_name, _, name = self.RETRY_SLEEP.rpartition(".")
        module = importlib.import_module(module_name)
        real = getattr(module, name)
        waits: list[float] = []

        async def recording(seconds: float, *args: Any, **kwargs: Any) -> Any:
            if seconds > 0:
                waits.append(seconds)
            return await real(seconds, *args, **kwargs)

        monkeypatch.setattr(module, name, recording)
        return waits

    def test_429_then_success_waits_retry_after_ms(
        self,
        fake: FakeAPI,
        model: Callable[..., Any],
        complete: Callable[..., list[Completion]],
        retry_waits: list[float],
    ) -> None:
        fake.enqueue(Reply.rate_limited(retry_after_ms=5), "1. Sunshine")
        (completion,) = complete(model(), PROMPT)
        assert completion.text == "1. Sunshine"
        assert [r.reply and r.reply.status for r in fake.requests] == [429, 200]
        assert retry_waits == [pytest.approx(0.005)]  # 5 ms asked; a backoff would be >= 0.375 s

    def test_retry_after_in_seconds_is_honoured(
        self,
        fake: FakeAPI,
        model: Callable[..., Any],
        complete: Callable[..., list[Completion]],
        retry_waits: list[float],
    ) -> None:
        fake.enqueue(Reply.rate_limited(retry_after_ms=None, retry_after="0.6"), "1. Sunshine")
        (completion,) = complete(model(), PROMPT)
        assert completion.text == "1. Sunshine"
        assert retry_waits == [pytest.approx(0.6)]  # what the server asked, not a backoff

    def test_server_errors_until_retries_run_out_raise_the_provider_error(
        self, fake: FakeAPI, model: Callable[..., Any], complete: Callable[..., list[Completion]]
    ) -> None:
        fake.reset(answer=Reply.server_error())
        with pytest.raises(self.SERVER_ERROR, match="500"):
            complete(model(max_retries=3), PROMPT)
        assert len(fake.requests) == 4  # the first try and 3 retries (not the default)

    def test_a_reply_slower_than_the_timeout_fails_after_the_retries(
        self, fake: FakeAPI, model: Callable[..., Any], complete: Callable[..., list[Completion]]
    ) -> None:
        fake.reset(answer=Reply.slow(600))  # the test ends only if the timeout cuts it short
        with pytest.raises(self.TIMEOUT_ERROR):
            complete(model(timeout=0.2, max_retries=0), PROMPT)
        received = fake.wait_for_requests(1, timeout=2)
        assert len(received) == 1, received

    def test_a_timeout_is_retried(
        self, fake: FakeAPI, model: Callable[..., Any], complete: Callable[..., list[Completion]]
    ) -> None:
        fake.enqueue(Reply.slow(600), "1. Sunshine")  # answered only by the retry
        (completion,) = complete(model(timeout=0.3, max_retries=1), PROMPT)
        assert completion.text == "1. Sunshine"
        assert len(fake.requests) == 2

    def test_a_body_that_is_not_json_fails(
        self, fake: FakeAPI, model: Callable[..., Any], complete: Callable[..., list[Completion]]
    ) -> None:
        fake.enqueue(Reply.malformed())
        with pytest.raises(ValueError):
            complete(model(), PROMPT)

    def test_a_truncated_body_is_retried_then_fails(
        self, fake: FakeAPI, model: Callable[..., Any], complete: Callable[..., list[Completion]]
    ) -> None:
        fake.enqueue(Reply.truncated(), "1. Sunshine")
        assert complete(model(max_retries=1), PROMPT)[0].text == "1. Sunshine"
        fake.reset(answer=Reply.truncated())
        with pytest.raises(self.CONNECTION_ERROR):
            complete(model(max_retries=0), PROMPT)


def assert_usage_recorded(
    fake: FakeAPI, instance: Any, complete: Callable[..., list[Any]], finish_reason: str
) -> None:
    """A truncated answer's token counts, ``finish_reason`` (the provider's word for "length")
    and a latency land in ``instance``'s completion."""
    fake.enqueue(Reply("1. A broken vase", finish="length", input_tokens=321, output_tokens=4))
    (completion,) = complete(instance, Prompt.user("Why is the man in the image angry?"))
    assert (completion.input_tokens, completion.output_tokens) == (321, 4)
    assert completion.finish_reason == finish_reason
    assert completion.latency_s > 0


class APIModelBatchTests:
    """``model.batch_api=true`` end to end against the fake's batch endpoint; subclass as
    ``TestBatch`` and set the class attributes. Each test runs EIBench's first 4 samples (no
    judge) through ``eicore run`` in a subprocess, at ``run.concurrency=1``: a batch model keeps
    every sample in flight itself; its conftest provides ``eibench``."""

    MODEL: ClassVar[str]
    URL_SUFFIX: ClassVar[str] = ""
    KEY_ENV: ClassVar[str]
    KEY: ClassVar[str]
    """A fake key, set in ``KEY_ENV``; no file, log or message may hold it."""
    ANSWER: ClassVar[str] = "1. The man is shouting\n2. A raised fist"

    @pytest.fixture
    def setup(self, eibench: Path, tmp_path: Path) -> tuple[Path, list[str], dict[str, str]]:
        """The folder (images in it), the 4 samples' image paths and questions."""
        synthetic_images(eibench, tmp_path / "images")
        questions = eibench_questions(eibench, 4)
        return tmp_path, list(questions), questions

    def args(self, fake: FakeAPI, eibench: Path, folder: Path, *more: str) -> tuple[str, ...]:
        return (
            f"model={self.MODEL}", f"model.base_url={fake.url}{self.URL_SUFFIX}",
            "model.batch_api=true", "model.batch_poll_s=0.02", "model.batch_poll_max_s=0.1",
            "model.max_retries=1", "run.concurrency=1", f"data.root={eibench}",
            f"data.image_root={folder / 'images'}", "data.limit=4", "~judge", *more,
        )  # fmt: skip

    def records(self, folder: Path) -> dict[str, dict[str, Any]]:
        (run_dir,) = (folder / "runs").iterdir()
        return {r["sample"]["image"]: r for r in read_jsonl(run_dir / "records.jsonl")}

    def metrics(self, folder: Path) -> dict[str, Any]:
        (run_dir,) = (folder / "runs").iterdir()
        metrics: dict[str, Any] = read_json(run_dir / "metrics.json")
        return metrics

    def test_a_run_goes_out_as_one_batch_at_the_batch_price(
        self, eibench: Path, setup: tuple[Path, list[str], dict[str, str]]
    ) -> None:
        folder, images, _ = setup
        with FakeAPI(answer=self.ANSWER) as fake:
            prices = ("model.price_input_per_mtok=3", "model.price_output_per_mtok=15")
            result = run_eicore(*self.args(fake, eibench, folder, *prices), folder=folder,
                                env={self.KEY_ENV: self.KEY})  # fmt: skip
            served = fake.requests
            (batch,) = fake.batches
        assert result.returncode == 0, result.stderr[-3000:]
        answered = [r for r in served if r.reply is not None]
        assert len(batch.requests) == 4 and len(answered) == 4
        assert all(r.batch == batch.id for r in answered)  # no call went out directly
        records = self.records(folder)
        assert [records[i]["status"] for i in images] == ["answered"] * 4
        assert {records[i]["response"]["text"] for i in images} == {self.ANSWER}
        metrics = self.metrics(folder)
        assert metrics["calls_made"] == 4
        full_price = sum(r.input_tokens * 3 + r.output_tokens * 15 for r in answered) / 1e6
        assert metrics["cost_usd"]["estimated"] == pytest.approx(full_price / 2, abs=1e-6)
        calls = [c for r in records.values() for c in r["response"]["trace"]]
        assert all(c["completion"]["batch"] for c in calls)
        # the batch is collected: nothing is left pending, and the key is nowhere
        assert pending_batches(folder / "cache") == []
        assert files_holding(self.KEY, folder / "runs", folder / "cache") == []
        assert self.KEY not in result.stdout + result.stderr and batch.id in result.stderr

    def test_each_step_of_a_two_step_strategy_is_one_batch(
        self, eibench: Path, setup: tuple[Path, list[str], dict[str, str]]
    ) -> None:
        folder, images, _ = setup
        with FakeAPI(answer=self.ANSWER) as fake:
            result = run_eicore(*self.args(fake, eibench, folder, "strategy=caption"),
                                folder=folder, env={self.KEY_ENV: self.KEY})  # fmt: skip
            batches = fake.batches
        assert result.returncode == 0, result.stderr[-3000:]
        assert [len(b.requests) for b in batches] == [4, 4]  # captions, then answers
        records = self.records(folder)
        roles = [[c["role"] for c in records[i]["response"]["trace"]] for i in images]
        assert roles == [["captioner", "answerer"]] * 4

    def test_a_judge_pass_goes_out_as_one_batch(
        self, eibench: Path, setup: tuple[Path, list[str], dict[str, str]]
    ) -> None:
        folder, images, _ = setup

        def answer(request: Received) -> str:
            text = json.dumps(request.body)
            if "Ground-truth emotional triggers (" not in text:
                return self.ANSWER
            total = int(text.split("Ground-truth emotional triggers (", 1)[1].split(")", 1)[0])
            verdicts = [{"n": n, "verdict": "matched", "span": "fist"} for n in range(1, total + 1)]
            items = [{"n": n, "supported": True} for n in (1, 2)]
            return json.dumps({"triggers": verdicts, "items": items})

        env = {self.KEY_ENV: self.KEY}
        with FakeAPI(answer=answer) as fake:
            answered = run_eicore(*self.args(fake, eibench, folder), folder=folder, env=env)
            assert answered.returncode == 0, answered.stderr[-3000:]
            (run_dir,) = (folder / "runs").iterdir()
            judge = "judges.gpt.model"
            scored = run_eicore(
                "+judge@judges.gpt=llm", f"+model@{judge}={self.MODEL}",
                f"{judge}.base_url={fake.url}{self.URL_SUFFIX}", f"{judge}.batch_api=true",
                f"{judge}.batch_poll_s=0.02", "run.concurrency=1",
                folder=folder, env=env, command=("score", str(run_dir)),
            )  # fmt: skip
            batches = fake.batches
        assert scored.returncode == 0, scored.stderr[-3000:]
        assert [len(b.requests) for b in batches] == [4, 4]  # the answers, then the judge's
        assert all("Ground-truth" in json.dumps(r) for r in batches[1].requests.values())
        assert "gpt: recall 100.00" in scored.stdout

    def test_failed_requests_are_retried_and_refused_ones_fail_their_sample(
        self, eibench: Path, setup: tuple[Path, list[str], dict[str, str]]
    ) -> None:
        folder, images, questions = setup
        tries = dict.fromkeys(images, 0)

        def answer(request: Received) -> Reply | str:
            image = sample_of(request, questions)
            tries[image] += 1
            if image == images[0] and tries[image] == 1:
                return Reply.server_error()
            if image == images[1] and tries[image] == 1:
                return Reply.expired()
            if image == images[2]:
                return Reply("the prompt is invalid", status=400)
            if image == images[3]:
                return Reply.refusal()
            return self.ANSWER

        with FakeAPI(answer=answer) as fake:
            result = run_eicore(*self.args(fake, eibench, folder), folder=folder,
                                env={self.KEY_ENV: self.KEY})  # fmt: skip
            batches = fake.batches
        assert result.returncode == 0, result.stderr[-3000:]
        # the 500 and the expired request went again, in a second batch; the 400 did not
        assert [len(b.requests) for b in batches] == [4, 2]
        assert tries == dict(zip(images, [2, 2, 1, 1], strict=True))
        records = self.records(folder)
        assert [records[i]["status"] for i in images] == [
            "answered",
            "answered",
            "failed",
            "failed",
        ]
        assert records[images[2]]["error_type"] == "BatchError"
        assert "400" in records[images[2]]["error"] or "invalid" in records[images[2]]["error"]
        assert records[images[3]]["error_type"] == "RefusalError"
        assert not records[images[2]]["response"]["text"]  # a failure, never an empty answer

    def test_a_run_killed_while_its_batch_is_pending_collects_that_batch(
        self, eibench: Path, setup: tuple[Path, list[str], dict[str, str]]
    ) -> None:
        folder, images, _ = setup
        env = {self.KEY_ENV: self.KEY}
        with FakeAPI(answer=self.ANSWER, hold_batches=True) as fake:
            args = self.args(fake, eibench, folder)
            process = start_eicore(*args, folder=folder, env=env)
            try:  # the run checks its batch only once it has recorded the batch's id
                fake.wait_for_request(lambda r: r.method == "GET" and "batches/" in r.path, 120)
            finally:
                process.kill()  # SIGKILL: nothing runs on the way out
                process.communicate()
            assert process.returncode == -9
            assert [r for r in fake.requests if r.batch] == []  # no answer yet
            (recorded,) = pending_batches(folder / "cache")
            assert self.KEY not in json.dumps(recorded)
            fake.release_batches()
            result = run_eicore(*args, folder=folder, env=env)
            batches = fake.batches
        assert result.returncode == 0, result.stderr[-3000:]
        assert len(batches) == 1 and recorded[0] == batches[0].id  # polled, not sent again
        assert f"resuming batch {batches[0].id}" in result.stderr
        records = self.records(folder)
        assert [records[i]["status"] for i in images] == ["answered"] * 4
        assert self.metrics(folder)["calls_made"] == 4
        assert pending_batches(folder / "cache") == []

    def test_ctrl_c_while_polling_names_the_batch_and_the_rerun_collects_it(
        self, eibench: Path, setup: tuple[Path, list[str], dict[str, str]]
    ) -> None:
        folder, images, _ = setup
        env = {self.KEY_ENV: self.KEY}
        with FakeAPI(answer=self.ANSWER, hold_batches=True) as fake:
            args = self.args(fake, eibench, folder)
            process = start_eicore(*args, folder=folder, env=env)
            try:
                fake.wait_for_request(lambda r: r.method == "GET" and "batches/" in r.path, 120)
                process.send_signal(signal.SIGINT)
                _, stderr = process.communicate(timeout=120)
            finally:
                process.kill()
            (batch,) = fake.batches
            fake.release_batches()
            resumed = run_eicore(*args, folder=folder, env=env)
            created = len(fake.batches)
        assert process.returncode == 130, stderr[-3000:]
        last = stderr.strip().splitlines()[-1]
        assert batch.id in last and "run the same command" in last, stderr[-3000:]
        assert "Traceback" not in stderr and self.KEY not in stderr
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert created == 1
        records = self.records(folder)
        assert [records[i]["status"] for i in images] == ["answered"] * 4


def pending_batches(cache: Path) -> list[tuple[str, str, str]]:
    """The rows of the call cache's record of pending batches (id, model, keys)."""
    import sqlite3

    db = sqlite3.connect(cache / "calls.sqlite")
    try:
        return [tuple(row) for row in db.execute("SELECT id, model, keys FROM batches")]
    finally:
        db.close()
