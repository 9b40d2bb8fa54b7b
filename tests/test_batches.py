"""Provider batches as the core runs them (``eicore.run.batches``), against a scripted in-process
batch API and a strategy that asks each sample's question: rounds, chunks, retries, whole-batch
failures, resuming a recorded batch, the run loop keeping every sample in flight, and the
batch price. The real SDKs against the fake's
batch endpoints are the openai and anthropic plugins' ``TestBatch``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from eicore import (
    APIModel,
    APIModelConfig,
    BatchError,
    BatchStatus,
    Completion,
    ConfigError,
    ImagePart,
    ModelRole,
    Prompt,
    RefusalError,
    Sample,
    Strategy,
)
from eicore.run.calls import ModelClient
from eicore.run.loop import Components, Progress, run_samples
from eicore.run.store import CallCache, RunStore


@dataclass
class ScriptedConfig(APIModelConfig):
    name: str = "scripted"
    vision: bool = False
    batch_api: bool = True
    batch_poll_s: float = 0.001
    batch_poll_max_s: float = 0.002
    max_retries: int = 1
    price_input_per_mtok: float | None = 2.0
    price_output_per_mtok: float | None = 10.0


@dataclass
class Provider:
    """A batch API in memory: batches end at their second status check."""

    fail: dict[str, list[Exception]] = field(default_factory=dict)
    """Question → the errors of its first tries, in order."""
    broken: bool = False
    """Every batch fails as a whole."""
    batches: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    checks: dict[str, int] = field(default_factory=dict)


class ScriptedBatchModel(APIModel[None]):
    has_batch_api = True
    max_batch_requests = 3

    def __init__(self, config: ScriptedConfig, provider: Provider) -> None:
        super().__init__(config)
        self.provider = provider

    async def call_api(self, prompt: Prompt) -> Completion:
        raise AssertionError("a batch model makes no direct call")

    def batch_request(self, prompt: Prompt) -> dict[str, Any]:
        return {"question": prompt.messages[-1].text}

    async def submit_batch(self, requests: Mapping[str, dict[str, Any]]) -> str:
        batch_id = f"b{len(self.provider.batches) + 1}"
        self.provider.batches[batch_id] = dict(requests)
        return batch_id

    async def poll_batch(self, batch_id: str) -> BatchStatus:
        if self.provider.broken:
            raise BatchError(f"batch {batch_id} failed: the input file is invalid")
        n = self.provider.checks[batch_id] = self.provider.checks.get(batch_id, 0) + 1
        return BatchStatus(n >= 2, "ended" if n >= 2 else "in_progress")

    async def batch_results(self, batch_id: str) -> dict[str, Completion | Exception]:
        results: dict[str, Completion | Exception] = {}
        for key, body in self.provider.batches[batch_id].items():
            question = body["question"]
            errors = self.provider.fail.get(question, [])
            if errors:
                results[key] = errors.pop(0)
            elif "fire" in question:
                results[key] = RefusalError("refused", Completion("no", 30, 2))
            else:
                results[key] = Completion(f"1. {question}", 100, 10)
        return results


class Ask(Strategy):
    """The question as the prompt, the answer as it comes."""

    async def answer(
        self, sample: Sample, image: ImagePart | None, models: Mapping[str, ModelRole]
    ) -> str:
        return (await models["answerer"].complete(Prompt.user(sample.question))).text


def samples(n: int) -> list[Sample]:
    return [
        Sample(f"s{i}", "basic", f"x/{i}.png", f"question {i}", ("a vase",), "angry")
        for i in range(n)
    ]


def run(
    tmp_path: Path, provider: Provider, todo: list[Sample], concurrency: int = 1
) -> tuple[dict[str, Any], ModelClient]:
    """``todo`` through the direct strategy at ``concurrency``; the records by sample id."""
    cache = CallCache(tmp_path / "cache" / "calls.sqlite")
    store = RunStore(tmp_path / "run")
    client = ModelClient(ScriptedBatchModel(ScriptedConfig(), provider), cache)
    parts = Components(Ask(None), {"answerer": client}, [], None)

    async def go() -> None:
        try:
            await run_samples(todo, parts, store, concurrency, Progress(len(todo)), False)
        finally:
            await client.aclose()

    try:
        asyncio.run(go())
        return store.records(), client
    finally:
        store.close()
        cache.close()


def pending(tmp_path: Path) -> list[str]:
    cache = CallCache(tmp_path / "cache" / "calls.sqlite")
    try:
        return [b.id for b in cache.batches(client_identity())]
    finally:
        cache.close()


def client_identity() -> str:
    model = ScriptedBatchModel(ScriptedConfig(), Provider())
    return ModelClient(model, None).identity


def test_every_sample_is_in_flight_and_a_round_goes_out_in_chunks(tmp_path: Path) -> None:
    provider = Provider()
    records, client = run(tmp_path, provider, samples(7), concurrency=1)
    # run.concurrency=1, yet all 7 calls met: one round, in chunks of max_batch_requests
    assert [len(b) for b in provider.batches.values()] == [3, 3, 1]
    assert all(r.status == "answered" for r in records.values())
    assert client.calls_made == 7
    calls = [c for r in records.values() for c in r.calls]
    assert all(c.completion.batch and not c.cached for c in calls)
    assert pending(tmp_path) == []


def test_answers_are_cached_as_they_arrive_and_a_rerun_sends_nothing(tmp_path: Path) -> None:
    run(tmp_path, Provider(), samples(2))
    cache = CallCache(tmp_path / "cache" / "calls.sqlite")
    rows = cache.db.execute("SELECT completion FROM calls").fetchall()
    cache.close()
    assert sorted(json.loads(r[0])["text"] for r in rows) == ["1. question 0", "1. question 1"]
    again = Provider()
    cache_dir = tmp_path / "again"
    (cache_dir / "cache").mkdir(parents=True)
    (tmp_path / "cache" / "calls.sqlite").rename(cache_dir / "cache" / "calls.sqlite")
    records, _ = run(cache_dir, again, samples(2))  # a new run directory, the same cache
    assert again.batches == {}
    assert all(r.status == "answered" and r.calls[0].cached for r in records.values())


def test_retryable_failures_go_again_and_the_others_fail_their_sample(tmp_path: Path) -> None:
    provider = Provider(
        fail={
            "question 0": [BatchError("HTTP 500: upstream", retryable=True)],
            "question 1": [BatchError("HTTP 500", True), BatchError("HTTP 500: again", True)],
            "question 2": [BatchError("HTTP 400: the prompt is invalid")],
        }
    )
    records, _ = run(tmp_path, provider, [*samples(3), sample_about_fire()])
    assert [len(b) for b in provider.batches.values()] == [3, 1, 2]  # 4 requests; then 2 again
    assert records["s0"].status == "answered"
    assert (records["s1"].status, records["s1"].error_type) == ("failed", "BatchError")
    assert "again" in (records["s1"].error or "")  # max_retries=1: the second error is final
    assert (records["s2"].error_type, records["s2"].error) == (
        "BatchError", "HTTP 400: the prompt is invalid",
    )  # fmt: skip
    refused = records["fire"]
    assert refused.error_type == "RefusalError"
    (call,) = refused.calls
    assert call.completion.batch and call.completion.input_tokens == 30  # billed, at batch price
    assert pending(tmp_path) == []


def sample_about_fire() -> Sample:
    return Sample("fire", "basic", "x/f.png", "why the fire", ("a vase",), "angry")


def test_a_batch_that_fails_as_a_whole_fails_its_samples(tmp_path: Path) -> None:
    records, _ = run(tmp_path, Provider(broken=True), samples(2))
    assert {(r.status, r.error_type) for r in records.values()} == {("failed", "BatchError")}
    assert "input file is invalid" in (records["s0"].error or "")


def test_a_recorded_batch_is_polled_instead_of_sent_again(tmp_path: Path) -> None:
    provider = Provider()
    todo = samples(3)
    model = ScriptedBatchModel(ScriptedConfig(), provider)
    client = ModelClient(model, None)
    keys = {client.key(Prompt.user(s.question), 0): s.question for s in todo}
    # what a killed run left: a batch of these calls at the provider, recorded in the cache
    from eicore.run.store import PendingBatch

    provider.batches["b-old"] = {k: {"question": q} for k, q in keys.items()}
    cache = CallCache(tmp_path / "cache" / "calls.sqlite")
    cache.add_batch(PendingBatch("b-old", client.identity, frozenset(keys), 0.0))
    cache.close()
    records, client = run(tmp_path, provider, todo)
    assert list(provider.batches) == ["b-old"]  # nothing new was sent
    assert all(r.status == "answered" for r in records.values())
    assert client.calls_made == 3
    assert pending(tmp_path) == []


def test_a_batch_call_costs_the_batch_discount_less() -> None:
    model = ScriptedBatchModel(ScriptedConfig(batch_discount=0.5), Provider())
    direct = Completion("1. x", input_tokens=1000, output_tokens=100)
    batched = Completion("1. x", input_tokens=1000, output_tokens=100, batch=True)
    assert model.cost(direct) == pytest.approx((1000 * 2 + 100 * 10) / 1e6)
    assert model.cost(batched) == pytest.approx(model.cost(direct) / 2)  # type: ignore[operator]


def test_a_model_without_a_batch_api_refuses_batch_api() -> None:
    class Direct(APIModel[None]):
        async def call_api(self, prompt: Prompt) -> Completion:
            return Completion("1. x")

    with pytest.raises(ConfigError, match="has no batch API"):
        Direct(ScriptedConfig(batch_api=True))
    assert Direct(ScriptedConfig(batch_api=False)).in_flight is None


@pytest.mark.parametrize(
    ("field_", "value"),
    [("batch_poll_s", 0), ("batch_poll_max_s", -1), ("batch_samples", 0), ("batch_discount", 1)],
)
def test_batch_settings_that_cannot_work_are_refused(field_: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"model.{field_}"):
        ScriptedBatchModel(ScriptedConfig(**{field_: value}), Provider())


def test_split_system_gives_the_configs_then_the_prompts_system_text() -> None:
    prompt = Prompt.user("Why?", system="Answer briefly.")
    assert prompt.split_system("You are careful.") == (
        "You are careful.\n\nAnswer briefly.", prompt.messages[1:],
    )  # fmt: skip
    assert Prompt.user("Why?").split_system(None) == ("", Prompt.user("Why?").messages)
