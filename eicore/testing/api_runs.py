"""Shared tests for API model plugins: ``eicore run model=<plugin>`` end to end against the
:class:`~eicore.testing.fake_api.FakeAPI`, in a subprocess like a user's run.

One run of EIBench's first 4 samples (synthetic images, the semantic judge) in which the fake
answers the first sample, rate-limits the second once, fails the third with 500s that echo the
request headers (the key among them) until retries run out, and refuses the fourth.

A plugin's ``tests/test_run.py`` subclasses :class:`APIModelRunTests` as ``TestRun`` and sets
the class attributes; its conftest provides the ``eibench`` fixture
(:mod:`eicore.testing.pytest_plugin`).
"""

from __future__ import annotations

import asyncio
import importlib
import json
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
