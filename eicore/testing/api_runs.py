"""Shared tests for API model plugins, against the :class:`~eicore.testing.fake_api.FakeAPI`:
what goes over the wire (:class:`APIModelRequestTests`), the failures a server can cause
(:class:`APIModelFailureTests`), and ``eicore run model=<plugin>`` end to end in a subprocess
like a user's run (:class:`APIModelRunTests`).

A plugin's ``tests/conftest.py`` describes the plugin once, as an :class:`APIModelPlugin` from a
session-scoped ``api_plugin`` fixture, and imports the fixtures of
:mod:`eicore.testing.pytest_plugin` (``fake``, ``complete``, ``eibench``, ``key``, ``model``,
``api``);
its test modules subclass the test classes (``TestRequests``, ``TestFailures``, ``TestRun``) and
add the tests of what is the provider's own. A plugin with a batch API subclasses
:class:`APIModelBatchTests` as ``TestBatch`` too: ``model.batch_api=true`` runs, retries, a
killed run and Ctrl-C while a batch is pending.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import importlib
import json
import re
import signal
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from eicore import (
    APIModel,
    APIModelConfig,
    Completion,
    ConfigError,
    Prompt,
    RefusalError,
    TextOnlyModelError,
    read_image,
)
from eicore.testing.fake_api import FakeAPI, Received, Reply
from eicore.testing.runs import (
    eibench_questions,
    files_holding,
    png_named_jpg,
    read_json,
    read_jsonl,
    run_eicore,
    start_eicore,
    synthetic_images,
)


@dataclass(frozen=True)
class APIModelPlugin:
    """An API model plugin as the shared tests and fixtures see it: what differs between
    providers, said once per plugin."""

    name: str
    """The model's registered name (``model=...``)."""
    model: type[APIModel[Any]]
    config: type[APIModelConfig]
    """The model's config; the ``model`` fixture builds it with the fake's URL."""
    key: str
    """A fake key, set in ``key_env`` for the tests; no file or log may hold it."""
    server_error: type[BaseException]
    """What a 500 raises once the retries have run out (the SDK's error)."""
    timeout_error: type[BaseException]
    connection_error: type[BaseException]
    """What a truncated body raises once the retries have run out."""
    refusal_reason: str
    """What the error of a refused answer says (the provider's stop or finish reason)."""
    refusal_explained: bool
    """Whether a refusal comes with the model's words, kept in the error and the completion
    (Gemini's safety block withholds them)."""
    stop_reason: str
    """The provider's ``finish_reason`` of an answer that ended by itself."""
    length_reason: str
    """The provider's ``finish_reason`` of an answer cut off at ``max_tokens``."""
    url_suffix: str = ""
    """Appended to the fake's URL for the config's ``base_url``."""
    retry_sleep: str = "anyio.sleep"
    """The function the model's retries wait with (the SDK's, or the plugin's own): the tests
    record what each retry asks it to wait, instead of timing the calls."""

    @property
    def key_env(self) -> str:
        """The variable the config names by default."""
        return str(self.config().api_key_env)


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
    """``eicore run`` end to end; subclass as ``TestRun``.

    One run of EIBench's first 4 samples (synthetic images, the semantic judge) in which the fake
    answers the first sample, rate-limits the second once, fails the third with 500s that echo
    the request headers (the key among them) until retries run out, and refuses the fourth."""

    @pytest.fixture(scope="class")
    @classmethod
    def run(
        cls, api_plugin: APIModelPlugin, eibench: Path, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Run]:
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
                f"model={api_plugin.name}", f"model.base_url={fake.url}{api_plugin.url_suffix}",
                "model.max_retries=2", f"data.root={eibench}",
                f"data.image_root={folder / 'images'}", "data.limit=4", "judge=semantic",
                folder=folder, env={api_plugin.key_env: api_plugin.key},
            )  # fmt: skip
            served = fake.requests
        assert result.returncode == 0, result.stderr[-3000:]
        (run_dir,) = (folder / "runs").iterdir()
        yield Run(result, run_dir, folder / "cache", served, paths, media_types, tries)

    def test_answered_samples_are_predicted_and_scored(
        self, api_plugin: APIModelPlugin, run: Run
    ) -> None:
        assert f"| {api_plugin.name} / direct / basic |" in run.result.stdout
        # one line per sample, in data order: the failed samples' answers are empty
        predicted = [next(iter(p.items())) for p in read_jsonl(run.run_dir / "predictions.jsonl")]
        assert [image for image, _ in predicted] == run.images
        assert [bool(answer) for _, answer in predicted] == [True, True, False, False]
        assert run.metrics["recall"]["n_scored"] == 2

    def test_failed_samples_are_recorded_with_the_provider_error_and_the_run_goes_on(
        self, api_plugin: APIModelPlugin, run: Run
    ) -> None:
        metrics = run.metrics
        assert (metrics["n_answered"], metrics["n_failed"]) == (2, 2)
        server_error = api_plugin.server_error.__name__
        assert metrics["errors"] == dict(sorted({server_error: 1, "RefusalError": 1}.items()))
        # the 429 retried; the 500 tried 1 + 2 times
        assert run.tries == dict(zip(run.images, [1, 2, 3, 1], strict=True))
        records = read_jsonl(run.run_dir / "records.jsonl")
        failed = {r["sample"]["image"]: r["error"] for r in records if r["status"] == "failed"}
        assert (
            "500" in failed[run.images[2]] and "***" in failed[run.images[2]]
        )  # the echoed key, masked
        assert api_plugin.refusal_reason in failed[run.images[3]]

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

    def test_the_key_reaches_no_file_and_no_log(self, api_plugin: APIModelPlugin, run: Run) -> None:
        key = api_plugin.key
        assert any(key in str(r.headers) for r in run.served)  # it was sent, and echoed back
        assert files_holding(key, run.run_dir, run.cache) == []
        assert (run.run_dir / "run.log").is_file()
        assert key not in run.result.stdout + run.result.stderr

    def test_a_missing_key_stops_the_run_before_any_call(
        self, api_plugin: APIModelPlugin, eibench: Path, tmp_path: Path
    ) -> None:
        with FakeAPI() as fake:
            result = run_eicore(
                f"model={api_plugin.name}", f"model.base_url={fake.url}{api_plugin.url_suffix}",
                f"data.root={eibench}", f"data.image_root={tmp_path}", "data.limit=4",
                folder=tmp_path, env={},
            )  # fmt: skip
            assert fake.requests == []
        assert result.returncode == 2, result.stderr[-3000:]
        assert api_plugin.key_env in result.stderr and "Traceback" not in result.stderr


PROMPT = Prompt.user("Why is the woman in the image so happy?")
QUESTION = "Why is the man in the image angry?"


@dataclass(frozen=True)
class OnTheFake:
    """The plugin under test and the fake it talks to (the ``api`` fixture of
    :mod:`eicore.testing.pytest_plugin`), with ways to ask it."""

    plugin: APIModelPlugin
    fake: FakeAPI
    model: Callable[..., Any]
    """``model(**config fields)``: the plugin's model on the fake (the ``model`` fixture)."""
    complete: Callable[..., list[Completion]]

    def ask(self, prompt: Prompt = PROMPT, **fields: Any) -> Completion:
        """The completion of ``prompt`` by a new model of config ``fields``, its client closed
        after."""
        (completion,) = self.complete(self.model(**fields), prompt)
        return completion

    def ask_with_image(self, folder: Path, **fields: Any) -> tuple[Received, str]:
        """Ask :data:`QUESTION` of a PNG named ``photo.jpg`` in ``folder``, with the system text
        "Answer briefly.", of a new model of config ``fields``; check the one request sent the
        image as the PNG its bytes are and the answer is the fake's. The request, and the image
        in base64 (for the plugin's own checks of the body)."""
        data = base64.b64encode(png_named_jpg(folder).read_bytes()).decode()
        image = read_image(folder, "photo.jpg")
        completion = self.ask(Prompt.user(image, QUESTION, system="Answer briefly."), **fields)
        (request,) = self.fake.requests
        assert request.images == [("image/png", data)]
        assert completion.text == Reply().text
        return request, data


class APIModelRequestTests:
    """What goes to the server, and what comes back; subclass as ``TestRequests``.

    The plugin's own tests add the shape of its request bodies."""

    def test_usage_finish_reason_and_latency_are_recorded(self, api: OnTheFake) -> None:
        api.fake.enqueue(
            Reply("1. A broken vase", finish="length", input_tokens=321, output_tokens=4)
        )
        completion = api.ask(Prompt.user(QUESTION))
        assert (completion.input_tokens, completion.output_tokens) == (321, 4)
        assert completion.finish_reason == api.plugin.length_reason
        assert completion.latency_s > 0

    def test_a_text_only_model_refuses_images_before_any_call(
        self, api: OnTheFake, tmp_path: Path
    ) -> None:
        assert api.model(vision=False).accepts_images is False
        assert api.model().accepts_images is True
        png_named_jpg(tmp_path)
        with pytest.raises(TextOnlyModelError, match="vision=false"):
            api.ask(Prompt.user(read_image(tmp_path, "photo.jpg"), QUESTION), vision=False)
        assert api.fake.requests == []

    def test_one_client_per_instance_made_on_first_call_and_closed(self, api: OnTheFake) -> None:
        instance = api.model()
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
        assert len(api.fake.requests) == 3

    @pytest.mark.parametrize("blank", ["", "  "])
    def test_a_missing_key_fails_at_construction_naming_the_variable(
        self, api_plugin: APIModelPlugin, monkeypatch: pytest.MonkeyPatch, blank: str
    ) -> None:
        monkeypatch.delenv(api_plugin.key_env, raising=False)
        with pytest.raises(ConfigError, match=api_plugin.key_env):
            api_plugin.model(api_plugin.config())
        monkeypatch.setenv("TEAM_MODEL_API_KEY", blank)
        with pytest.raises(ConfigError, match="TEAM_MODEL_API_KEY"):
            api_plugin.model(api_plugin.config(api_key_env="TEAM_MODEL_API_KEY"))

    def test_a_variable_eicore_would_not_mask_is_refused(
        self, api_plugin: APIModelPlugin, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TEAM_MODEL_CREDS", "sk-test-0123456789")
        with pytest.raises(ConfigError, match="API_KEY"):
            api_plugin.model(api_plugin.config(api_key_env="TEAM_MODEL_CREDS"))


class APIModelFailureTests:
    """Failures the server can cause, and the model's retries; subclass as ``TestFailures``."""

    @pytest.fixture
    def retry_waits(
        self, api_plugin: APIModelPlugin, monkeypatch: pytest.MonkeyPatch
    ) -> list[float]:
        """The seconds each retry waits, as asked of the plugin's ``retry_sleep`` (it still
        waits)."""
        module_name, _, name = api_plugin.retry_sleep.rpartition(".")
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
        self, api: OnTheFake, retry_waits: list[float]
    ) -> None:
        api.fake.enqueue(Reply.rate_limited(retry_after_ms=5), "1. Sunshine")
        assert api.ask().text == "1. Sunshine"
        assert [r.reply and r.reply.status for r in api.fake.requests] == [429, 200]
        assert retry_waits == [pytest.approx(0.005)]  # 5 ms asked; a backoff would be >= 0.375 s

    def test_retry_after_in_seconds_is_honoured(
        self, api: OnTheFake, retry_waits: list[float]
    ) -> None:
        api.fake.enqueue(Reply.rate_limited(retry_after_ms=None, retry_after="0.6"), "1. Sunshine")
        assert api.ask().text == "1. Sunshine"
        assert retry_waits == [pytest.approx(0.6)]  # what the server asked, not a backoff

    def test_server_errors_until_retries_run_out_raise_the_provider_error(
        self, api: OnTheFake
    ) -> None:
        api.fake.reset(answer=Reply.server_error())
        with pytest.raises(api.plugin.server_error, match="500"):
            api.ask(max_retries=3)
        assert len(api.fake.requests) == 4  # the first try and 3 retries (not the default)

    def test_a_reply_slower_than_the_timeout_fails_after_the_retries(self, api: OnTheFake) -> None:
        api.fake.reset(answer=Reply.slow(600))  # the test ends only if the timeout cuts it short
        with pytest.raises(api.plugin.timeout_error):
            api.ask(timeout=0.2, max_retries=0)
        received = api.fake.wait_for_requests(1, timeout=2)
        assert len(received) == 1, received

    def test_a_timeout_is_retried(self, api: OnTheFake) -> None:
        api.fake.enqueue(Reply.slow(600), "1. Sunshine")  # answered only by the retry
        assert api.ask(timeout=0.3, max_retries=1).text == "1. Sunshine"
        assert len(api.fake.requests) == 2

    def test_a_body_that_is_not_json_fails(self, api: OnTheFake) -> None:
        api.fake.enqueue(Reply.malformed())
        with pytest.raises(ValueError):
            api.ask()

    def test_a_truncated_body_is_retried_then_fails(self, api: OnTheFake) -> None:
        api.fake.enqueue(Reply.truncated(), "1. Sunshine")
        assert api.ask(max_retries=1).text == "1. Sunshine"
        api.fake.reset(answer=Reply.truncated())
        with pytest.raises(api.plugin.connection_error):
            api.ask(max_retries=0)

    def test_a_refusal_raises_with_the_reason_and_keeps_the_billed_usage(
        self, api: OnTheFake
    ) -> None:
        words = "I can't discuss people in images."
        refusal = dataclasses.replace(Reply.refusal(words), input_tokens=40, output_tokens=8)
        api.fake.enqueue(refusal)
        said = re.escape(api.plugin.refusal_reason)
        if api.plugin.refusal_explained:
            said += ".*" + re.escape(words)
        with pytest.raises(RefusalError, match=said) as refused:
            api.ask()
        completion = refused.value.completion  # the call was billed: its usage is kept
        assert (completion.input_tokens, completion.output_tokens) == (40, 8)
        assert completion.text == (words if api.plugin.refusal_explained else "")

    def test_an_empty_answer_is_returned_empty(self, api: OnTheFake) -> None:
        api.fake.enqueue(Reply.empty())
        completion = api.ask()
        assert completion.text == "" and completion.finish_reason == api.plugin.stop_reason


class APIModelBatchTests:
    """``model.batch_api=true`` end to end against the fake's batch endpoint; subclass as
    ``TestBatch`` (it reads the plugin's ``api_plugin``). Each test runs EIBench's first 4
    samples (no judge) through ``eicore run`` in a subprocess, at ``run.concurrency=1``: a batch
    model keeps every sample in flight itself; its conftest provides ``eibench``."""

    ANSWER: ClassVar[str] = "1. The man is shouting\n2. A raised fist"
    plugin: APIModelPlugin

    @pytest.fixture(autouse=True)
    def _described(self, api_plugin: APIModelPlugin) -> None:
        self.plugin = api_plugin

    @property
    def env(self) -> dict[str, str]:
        """The fake key in the plugin's key variable, as each run gets it."""
        return {self.plugin.key_env: self.plugin.key}

    @pytest.fixture
    def setup(self, eibench: Path, tmp_path: Path) -> tuple[Path, list[str], dict[str, str]]:
        """The folder (images in it), the 4 samples' image paths and questions."""
        synthetic_images(eibench, tmp_path / "images")
        questions = eibench_questions(eibench, 4)
        return tmp_path, list(questions), questions

    def args(self, fake: FakeAPI, eibench: Path, folder: Path, *more: str) -> tuple[str, ...]:
        return (
            f"model={self.plugin.name}", f"model.base_url={fake.url}{self.plugin.url_suffix}",
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
                                env=self.env)  # fmt: skip
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
        assert files_holding(self.plugin.key, folder / "runs", folder / "cache") == []
        assert self.plugin.key not in result.stdout + result.stderr and batch.id in result.stderr

    def test_each_step_of_a_two_step_strategy_is_one_batch(
        self, eibench: Path, setup: tuple[Path, list[str], dict[str, str]]
    ) -> None:
        folder, images, _ = setup
        with FakeAPI(answer=self.ANSWER) as fake:
            result = run_eicore(*self.args(fake, eibench, folder, "strategy=caption"),
                                folder=folder, env=self.env)  # fmt: skip
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

        with FakeAPI(answer=answer) as fake:
            answered = run_eicore(*self.args(fake, eibench, folder), folder=folder, env=self.env)
            assert answered.returncode == 0, answered.stderr[-3000:]
            (run_dir,) = (folder / "runs").iterdir()
            judge = "judges.gpt.model"
            scored = run_eicore(
                "+judge@judges.gpt=llm", f"+model@{judge}={self.plugin.name}",
                f"{judge}.base_url={fake.url}{self.plugin.url_suffix}", f"{judge}.batch_api=true",
                f"{judge}.batch_poll_s=0.02", "run.concurrency=1",
                folder=folder, env=self.env, command=("score", str(run_dir)),
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
                                env=self.env)  # fmt: skip
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

    def polling(self, fake: FakeAPI, args: Sequence[str], folder: Path) -> subprocess.Popen[str]:
        """``eicore run`` started, once it polls its batch (which it does only after it has
        recorded the batch's id); a run that fails first is killed."""
        process = start_eicore(*args, folder=folder, env=self.env)
        try:
            fake.wait_for_request(lambda r: r.method == "GET" and "batches/" in r.path, 120)
        except BaseException:
            process.kill()
            process.communicate()
            raise
        return process

    def test_a_run_killed_while_its_batch_is_pending_collects_that_batch(
        self, eibench: Path, setup: tuple[Path, list[str], dict[str, str]]
    ) -> None:
        folder, images, _ = setup
        with FakeAPI(answer=self.ANSWER, hold_batches=True) as fake:
            args = self.args(fake, eibench, folder)
            process = self.polling(fake, args, folder)
            process.kill()  # SIGKILL: nothing runs on the way out
            process.communicate()
            assert process.returncode == -9
            assert [r for r in fake.requests if r.batch] == []  # no answer yet
            (recorded,) = pending_batches(folder / "cache")
            assert self.plugin.key not in json.dumps(recorded)
            fake.release_batches()
            result = run_eicore(*args, folder=folder, env=self.env)
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
        with FakeAPI(answer=self.ANSWER, hold_batches=True) as fake:
            args = self.args(fake, eibench, folder)
            process = self.polling(fake, args, folder)
            try:
                process.send_signal(signal.SIGINT)
                _, stderr = process.communicate(timeout=120)
            finally:
                process.kill()
            (batch,) = fake.batches
            fake.release_batches()
            resumed = run_eicore(*args, folder=folder, env=self.env)
            created = len(fake.batches)
        assert process.returncode == 130, stderr[-3000:]
        last = stderr.strip().splitlines()[-1]
        assert batch.id in last and "run the same command" in last, stderr[-3000:]
        assert "Traceback" not in stderr and self.plugin.key not in stderr
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
