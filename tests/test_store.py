"""The on-disk state: the call cache shared across runs, the run store's lock and config binding,
and resuming an interrupted run without repeating a call."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from eicore_test_support import CLI, echo_args, only_run_dir, read_json, read_jsonl

from eicore.datasets.samples import DataConfig, load_basic, select
from eicore.run.store import CallCache, RunStore, StoreError
from eicore.types import Completion, Response, Sample, SampleRecord


def log_lines(path: Path) -> list[dict]:
    return read_jsonl(path) if path.exists() else []


# -- API level ------------------------------------------------------------------------------------
def record(sample_id: str, status: str = "answered") -> SampleRecord:
    sample = Sample(sample_id, "basic", sample_id, "why?", ("a", "b"), "happy")
    return SampleRecord(sample, status, Response("1. a"))  # type: ignore[arg-type]


def test_a_second_store_on_a_held_run_dir_is_refused(tmp_path: Path) -> None:
    first = RunStore(tmp_path / "run")
    try:
        with pytest.raises(StoreError) as err:
            RunStore(tmp_path / "run")
        message = str(err.value)
        assert str(tmp_path / "run") in message and "another eicore process" in message
        first.put(record("x"))  # the holder is unaffected
    finally:
        first.close()
    second = RunStore(tmp_path / "run")  # released on close
    assert second.answered_ids() == {"x"}
    second.close()


def test_a_run_store_is_bound_to_one_config(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    store.check_config("aaaa")
    store.check_config("aaaa")
    store.close()
    store = RunStore(tmp_path / "run")
    try:
        store.check_config("aaaa")
        with pytest.raises(StoreError, match="another configuration"):
            store.check_config("bbbb")
    finally:
        store.close()


def test_run_store_records_round_trip_and_only_answered_are_done(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    store.put(record("a"))
    store.put(record("b", "failed"))
    store.put(record("a"))  # a rerun replaces, never duplicates
    assert store.answered_ids() == {"a"}  # failed samples are retried on resume
    assert set(store.records()) == {"a", "b"}
    assert store.records()["a"] == record("a")
    store.close()


def test_call_cache_round_trip_survives_reopening(tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "c" / "calls.sqlite")
    completion = Completion(
        "1. sun", input_tokens=3, output_tokens=2, latency_s=0.5, finish_reason="stop"
    )
    cache.put("k", completion, "echo")
    cache.close()
    cache = CallCache(tmp_path / "c" / "calls.sqlite")
    assert cache.get("k") == completion and cache.get("other") is None
    cache.close()


def test_an_unusable_cache_file_is_a_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "calls.sqlite"
    bad.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(StoreError, match="calls.sqlite"):
        CallCache(bad)


# -- the call cache across runs -------------------------------------------------------------------
def two_runs(
    cli: CLI, eibench_dir: Path, tmp_path: Path, *extra: str
) -> tuple[dict, dict, list[dict]]:
    """The same run twice under two run roots (so the second cannot resume), one call cache."""
    log = tmp_path / "echo.log"
    common = ("data.shard=2/80", "data.limit=6", f"model.log={log}", *extra)
    cli.run(*echo_args(eibench_dir, tmp_path / "runs-a", *common))
    after_first = len(log_lines(log))
    cli.run(*echo_args(eibench_dir, tmp_path / "runs-b", *common))
    first = read_json(only_run_dir(tmp_path / "runs-a") / "metrics.json")
    second = read_json(only_run_dir(tmp_path / "runs-b") / "metrics.json")
    assert after_first == first["calls_made"] == 6
    return first, second, log_lines(log)[after_first:]


def test_calls_are_cached_across_runs(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    first, second, new_calls = two_runs(cli, eibench_dir, tmp_path)
    assert (second["calls_made"], second["calls_cached"]) == (0, 6)
    assert new_calls == []
    assert second["recall"] == first["recall"]
    a = read_jsonl(only_run_dir(tmp_path / "runs-a") / "predictions.jsonl")
    b = read_jsonl(only_run_dir(tmp_path / "runs-b") / "predictions.jsonl")
    assert a == b
    traces = [
        r["response"]["trace"]
        for r in read_jsonl(only_run_dir(tmp_path / "runs-b") / "records.jsonl")
    ]
    assert all(call["cached"] for trace in traces for call in trace)


def test_sampling_without_a_seed_is_not_cached(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    _, second, new_calls = two_runs(cli, eibench_dir, tmp_path, "model.temperature=0.7")
    assert (second["calls_made"], second["calls_cached"]) == (6, 0)
    assert len(new_calls) == 6


def test_sampling_with_a_seed_is_cached(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    _, second, new_calls = two_runs(
        cli, eibench_dir, tmp_path, "model.temperature=0.7", "model.seed=3"
    )
    assert (second["calls_made"], second["calls_cached"]) == (0, 6)
    assert new_calls == []


def test_run_cache_false_makes_every_call(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    _, second, new_calls = two_runs(cli, eibench_dir, tmp_path, "run.cache=false")
    assert (second["calls_made"], second["calls_cached"]) == (6, 0)
    assert len(new_calls) == 6
    assert not (cli.cache / "calls.sqlite").exists()


def test_a_different_model_config_misses_the_cache(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "echo.log"
    common = ("data.shard=2/80", "data.limit=3", f"model.log={log}")
    cli.run(*echo_args(eibench_dir, tmp_path / "runs-a", *common))
    cli.run(*echo_args(eibench_dir, tmp_path / "runs-b", *common, "model.max_words=2"))
    second = read_json(only_run_dir(tmp_path / "runs-b") / "metrics.json")
    assert (second["calls_made"], second["calls_cached"]) == (3, 0)


def test_the_cache_key_holds_the_image_bytes(
    cli: CLI, eibench_dir: Path, tmp_path: Path, make_image: Callable[..., Path]
) -> None:
    paths = [next(iter(row)) for row in read_jsonl(eibench_dir / "user.jsonl")[:3]]
    root = tmp_path / "images"
    for relative in paths:
        make_image(root / relative, color=(1, 2, 3))
    common = ("data.limit=3", f"data.image_root={root}")
    cli.run(*echo_args(eibench_dir, tmp_path / "runs-a", *common, model="echo-vision"))
    make_image(root / paths[1], color=(250, 2, 3))  # same path, other picture
    cli.run(*echo_args(eibench_dir, tmp_path / "runs-b", *common, model="echo-vision"))
    second = read_json(only_run_dir(tmp_path / "runs-b") / "metrics.json")
    assert (second["calls_made"], second["calls_cached"]) == (1, 2)
    made = [
        r
        for r in read_jsonl(only_run_dir(tmp_path / "runs-b") / "records.jsonl")
        if not r["response"]["trace"][0]["cached"]
    ]
    assert [r["sample"]["id"] for r in made] == [paths[1]]


# Identical prompts in flight at once are generated once; the others wait and count as cached.
def test_identical_prompts_in_flight_are_generated_once(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    basic = load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json")
    chosen = basic[:12]
    distinct = len({s.question for s in chosen})
    assert distinct < len(chosen)  # the first 12 questions hold duplicates, some side by side
    log = tmp_path / "echo.log"
    cli.run(
        *echo_args(
            eibench_dir,
            tmp_path / "runs",
            "data.limit=12",
            "run.concurrency=2",
            "model.delay=0.05",
            f"model.log={log}",
        )
    )
    assert len(log_lines(log)) == distinct


def test_duplicate_prompts_hit_the_cache_one_at_a_time(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    basic = load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json")
    distinct = len({s.question for s in basic[:12]})
    log = tmp_path / "echo.log"
    cli.run(
        *echo_args(
            eibench_dir, tmp_path / "runs", "data.limit=12", "run.concurrency=1", f"model.log={log}"
        )
    )
    metrics = read_json(only_run_dir(tmp_path / "runs") / "metrics.json")
    assert len(log_lines(log)) == metrics["calls_made"] == distinct
    assert metrics["calls_cached"] == 12 - distinct


# -- run directories ------------------------------------------------------------------------------
def test_the_same_command_resumes_and_run_settings_are_not_identity(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "echo.log"
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=4", f"model.log={log}")
    cli.run(*args)
    first = read_json(only_run_dir(tmp_path / "runs") / "metrics.json")
    result = cli.run(*args, "run.concurrency=3", "run.log_level=DEBUG")  # how, not what: same run
    run_dir = only_run_dir(tmp_path / "runs")
    again = read_json(run_dir / "metrics.json")
    assert len(log_lines(log)) == 4
    assert again["n_samples"] == 4 and again["recall"] == first["recall"]
    assert again["provenance"]["config_hash"] == first["provenance"]["config_hash"]
    assert "resuming" in result.stderr


def digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.iterdir()
        if p.suffix in {".json", ".jsonl", ".yaml"}
    }


def test_resuming_with_another_config_is_refused(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    cli.run(*echo_args(eibench_dir, root, "data.limit=3", "run.name=mine"))
    before = digests(root / "mine")
    result = cli.run(*echo_args(eibench_dir, root, "data.limit=4", "run.name=mine"), expect=2)
    assert "another configuration" in result.stderr and str(root / "mine") in result.stderr
    assert "Traceback" not in result.stderr
    assert digests(root / "mine") == before  # the refused run wrote nothing over the old one


def test_a_held_run_dir_is_refused_by_the_command(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    holder = RunStore(root / "busy")
    try:
        result = cli.run(*echo_args(eibench_dir, root, "data.limit=2", "run.name=busy"), expect=2)
    finally:
        holder.close()
    assert "in use by another eicore process" in result.stderr, str(result)
    assert not (root / "busy" / "metrics.json").exists()


# -- interrupt and resume -------------------------------------------------------------------------
SELECTION = ("data.shard=2/80", "data.limit=20")
INTERRUPT_AFTER = 7


def selected(eibench_dir: Path) -> list[Sample]:
    basic = load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json")
    return select(basic, DataConfig(shard="2/80", limit=20))


def comparable(metrics: dict) -> dict:
    return {
        "recall": metrics["recall"],
        "n_samples": metrics["n_samples"],
        "n_answered": metrics["n_answered"],
        "n_failed": metrics["n_failed"],
        "calls": metrics["calls_made"] + metrics["calls_cached"],
        "complete": metrics["complete"],
    }


@pytest.mark.parametrize("concurrency", [1, 4])
def test_interrupt_and_resume_repeats_no_call(
    cli: CLI, eibench_dir: Path, tmp_path: Path, concurrency: int
) -> None:
    samples = selected(eibench_dir)
    # every prompt differs, so "each prompt generated once" is about resuming, not about the cache
    assert len(samples) == 20 and len({s.question for s in samples}) == 20
    assert len({s.emotion for s in samples}) == 4
    log = tmp_path / "echo.log"
    args = echo_args(
        eibench_dir,
        tmp_path / "runs",
        *SELECTION,
        f"run.concurrency={concurrency}",
        "model.delay=0.01",
        f"model.log={log}",
    )

    # 1. Ctrl-C after 7 completed calls (SIGINT from the model; the config is not changed by it)
    stopped = cli.run(*args, env={"ECHO_INTERRUPT_AFTER": str(INTERRUPT_AFTER)}, expect=130)
    assert "interrupted" in stopped.stderr and "resume" in stopped.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    first_calls = log_lines(log)
    assert INTERRUPT_AFTER <= len(first_calls) <= INTERRUPT_AFTER + concurrency - 1
    partial = read_json(run_dir / "metrics.json")
    assert partial["complete"] is False
    first_records = {r["sample"]["id"]: r for r in read_jsonl(run_dir / "records.jsonl")}
    assert 1 <= len(first_records) <= len(first_calls)
    assert partial["n_samples"] == len(first_records)
    assert all(r["status"] == "answered" for r in first_records.values())

    # 2. the same command again, without the interrupt: it resumes the same run directory
    resumed = cli.run(*args)
    assert only_run_dir(tmp_path / "runs") == run_dir
    assert f"{len(first_records)} of 20" in resumed.stderr  # "resuming: k of 20 samples ..."
    calls = log_lines(log)
    new_calls = calls[len(first_calls) :]
    assert not {c["pid"] for c in new_calls} & {c["pid"] for c in first_calls}
    shas = Counter(c["prompt_sha256"] for c in calls)
    assert len(calls) == 20 and max(shas.values()) == 1, "a prompt was generated twice"
    # the rerun asked only about samples the first invocation did not finish
    by_question = {s.question: s.id for s in samples}
    asked_again = {by_question[c["prompt"].splitlines()[-1]] for c in new_calls}
    assert not asked_again & set(first_records)
    final_records = {r["sample"]["id"]: r for r in read_jsonl(run_dir / "records.jsonl")}
    assert set(final_records) == {s.id for s in samples}
    for sample_id, old in first_records.items():
        assert final_records[sample_id] == old  # kept as recorded, not redone

    # 3. the result equals an uninterrupted run in a fresh directory with a fresh cache
    fresh_cli = CLI(cli.pythonpath, tmp_path / "fresh-cache", cli.cwd)
    fresh_args = echo_args(
        eibench_dir,
        tmp_path / "fresh-runs",
        *SELECTION,
        f"run.concurrency={concurrency}",
        "model.delay=0.01",
        f"model.log={tmp_path / 'fresh.log'}",
    )
    fresh_cli.run(*fresh_args)
    fresh_dir = only_run_dir(tmp_path / "fresh-runs")
    final = read_json(run_dir / "metrics.json")
    fresh = read_json(fresh_dir / "metrics.json")
    assert comparable(final) == comparable(fresh)
    assert final["complete"] is True and final["n_samples"] == 20 and final["calls_made"] == 20
    assert final["recall"]["overall"] is not None
    assert set(final["recall"]["by_emotion"]) == {"happy", "angry", "sad", "excited"}
    assert read_jsonl(run_dir / "predictions.jsonl") == read_jsonl(fresh_dir / "predictions.jsonl")


def test_failed_samples_are_retried_on_resume(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    samples = selected(eibench_dir)[:6]
    word = "formation"
    failing = {s.id for s in samples if word in s.question}
    assert 0 < len(failing) < len(samples), [s.question for s in samples]
    log = tmp_path / "echo.log"
    args = echo_args(
        eibench_dir, tmp_path / "runs", "data.shard=2/80", "data.limit=6", f"model.log={log}"
    )
    # a transient failure: ECHO_FAIL_ON is read from the environment, so the config is the same
    cli.run(*args, env={"ECHO_FAIL_ON": word})  # failed samples do not fail the run
    run_dir = only_run_dir(tmp_path / "runs")
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["n_failed"] == len(failing)
    assert metrics["errors"] == {"RuntimeError": len(failing)}
    records = read_jsonl(run_dir / "records.jsonl")
    assert {r["sample"]["id"] for r in records if r["status"] == "failed"} == failing
    assert all(word in r["error"] for r in records if r["status"] == "failed")
    predictions = [next(iter(p.items())) for p in read_jsonl(run_dir / "predictions.jsonl")]
    assert [image for image, _ in predictions] == [s.id for s in samples]  # one line each
    assert {image for image, answer in predictions if not answer} == failing  # failed: empty
    assert len(log_lines(log)) == len(samples) - len(failing)  # a raising call is not completed

    cli.run(*args)  # the same command: only the failed samples are tried again
    assert only_run_dir(tmp_path / "runs") == run_dir
    calls = log_lines(log)
    assert len(calls) == len(samples)
    assert all(word in c["prompt"] for c in calls[len(samples) - len(failing) :])
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["n_failed"] == 0 and metrics["n_answered"] == len(samples)
    assert metrics["complete"] is True
