"""Whole runs through the command line: the complex split, empty answers, batching, sweeps and
configuration errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eicore_test_support import (
    CHEAP,
    CLI,
    UNMEASURED,
    echo_args,
    key_words,
    keyword_recalled,
    only_run_dir,
    read_json,
    read_jsonl,
)

from eicore.datasets.samples import load_complex


def test_complex_split_end_to_end(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    cli.run(*echo_args(eibench_dir, tmp_path / "runs", "data.split=complex", "data.limit=6"))
    run_dir = only_run_dir(tmp_path / "runs")
    assert run_dir.name.startswith("echo__direct__complex__")
    samples = load_complex(eibench_dir / "ec_complex.jsonl")[:6]
    records = read_jsonl(run_dir / "records.jsonl")
    assert [r["sample"]["id"] for r in records] == [s.id for s in samples]
    # predictions keep EIBench's shape and the file's order (images repeat in this split)
    predictions = read_jsonl(run_dir / "predictions.jsonl")
    assert [next(iter(p)) for p in predictions] == [s.image for s in samples]
    scores = []
    for sample, record in zip(samples, records, strict=True):
        (judgment,) = record["judgments"]
        assert judgment["total"] == len(sample.triggers)
        assert judgment["recalled"] == len(
            keyword_recalled(record["response"]["text"], sample.triggers)
        )
        scores.append(judgment["recalled"] / judgment["total"])
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["recall"]["overall"] == pytest.approx(sum(scores) / len(scores))
    assert metrics["recall"]["by_emotion"] == {}  # complex questions carry no emotion label
    assert metrics["provenance"]["data"]["split"] == "complex"


def write_custom(
    folder: Path, questions: dict[str, str], truth: dict[str, str]
) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    q = folder / "q.jsonl"
    q.write_text("".join(json.dumps({k: v}) + "\n" for k, v in questions.items()), encoding="utf-8")
    gt = folder / "gt.json"
    gt.write_text(json.dumps(truth), encoding="utf-8")
    return q, gt


def test_an_empty_answer_fails_its_sample_and_is_not_cached(cli: CLI, tmp_path: Path) -> None:
    # echo answers with the question's words of 5+ letters: "Why so sad?" has none
    q, gt = write_custom(
        tmp_path / "data",
        {"x/sad/1.png": "Why so sad?", "x/sad/2.png": "Why is the mourner weeping?"},
        {"x/sad/1.png": "1. rain", "x/sad/2.png": "1. A mourner at a funeral"},
    )
    log = tmp_path / "echo.log"
    args = [
        *CHEAP,
        f"data.questions={q}",
        f"data.ground_truth={gt}",
        f"run.root={tmp_path / 'runs'}",
        f"model.log={log}",
    ]
    cli.run(*args)
    run_dir = only_run_dir(tmp_path / "runs")
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["n_failed"] == 1 and metrics["errors"] == {"EmptyAnswerError": 1}
    assert metrics["recall"]["overall"] == pytest.approx(1.0) and metrics["recall"]["n_scored"] == 1
    # one line per sample in data order: the failed one with an empty answer, listed as failed
    predictions = [next(iter(p.items())) for p in read_jsonl(run_dir / "predictions.jsonl")]
    assert [image for image, _ in predictions] == ["x/sad/1.png", "x/sad/2.png"]
    assert predictions[0][1] == "" and predictions[1][1] != ""
    statuses = [r["status"] for r in read_jsonl(run_dir / "records.jsonl")]
    assert statuses == ["failed", "answered"]
    cli.run(*args)  # resumes: the failed sample is tried again, and its empty answer was not cached
    assert [c["prompt"].splitlines()[-1] for c in read_jsonl(log)] == [
        "Why so sad?",
        "Why is the mourner weeping?",
        "Why so sad?",
    ]


def test_batched_calls_answer_each_prompt_and_share_the_cache(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "echo.log"
    common = (
        "data.shard=3/80",
        "data.limit=8",
        "run.concurrency=8",
        "model.delay=0.02",
        f"model.log={log}",
    )
    cli.run(*echo_args(eibench_dir, tmp_path / "runs-a", *common, "model.batch_size=4"))
    calls = read_jsonl(log)
    assert len(calls) == 8
    assert 1 < max(c["batch"] for c in calls) <= 4  # prompts were really batched, never beyond 4
    run_a = only_run_dir(tmp_path / "runs-a")
    for record in read_jsonl(run_a / "records.jsonl"):  # every sample got its own answer
        sample = record["sample"]
        assert set(record["response"]["text"].split()[1::2]) == key_words(sample["question"])
    # batch_size is how a model is called, not what it answers: the same cache entries serve
    cli.run(*echo_args(eibench_dir, tmp_path / "runs-b", *common, "model.batch_size=1"))
    second = read_json(only_run_dir(tmp_path / "runs-b") / "metrics.json")
    assert (second["calls_made"], second["calls_cached"]) == (0, 8)
    assert read_jsonl(log) == calls
    assert read_jsonl(only_run_dir(tmp_path / "runs-b") / "predictions.jsonl") == read_jsonl(
        run_a / "predictions.jsonl"
    )


def test_a_sweep_runs_every_combination(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    args = echo_args(
        eibench_dir, tmp_path / "runs", "data.limit=2", "strategy.persona=none,assistant"
    )
    cli.run(*args, flags=["-m"])
    runs = sorted(p for p in (tmp_path / "runs" / "sweeps").iterdir() if p.is_dir())
    assert len(runs) == 2 and runs[0].name != runs[1].name
    hashes, personas = set(), set()
    for run_dir in runs:
        metrics = read_json(run_dir / "metrics.json")
        assert metrics["n_samples"] == 2
        assert run_dir.name.endswith(metrics["provenance"]["config_hash"])
        hashes.add(metrics["provenance"]["config_hash"])
        persona = OmegaConf.load(run_dir / "config.yaml").strategy.persona
        personas.add(persona)
        prompt = read_jsonl(run_dir / "records.jsonl")[0]["response"]["trace"][0]["prompt"]
        text = prompt[-1]["parts"][-1]["text"]
        assert ("helpful AI assistant" in text) == (persona == "assistant")
    assert len(hashes) == 2 and personas == {"none", "assistant"}


def test_cfg_job_prints_the_composed_config(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    result = cli.run(
        *echo_args(eibench_dir, tmp_path / "runs", "data.limit=3"), flags=["--cfg", "job"]
    )
    printed = OmegaConf.create(result.stdout)
    assert printed.model.plugin == "echo" and printed.judge.plugin == "keyword"
    assert printed.data.limit == 3
    assert not (tmp_path / "runs").exists()  # printing the config runs nothing


def test_a_bad_model_field_fails_clearly(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    args = echo_args(eibench_dir, tmp_path / "runs", "model.bogus=1")
    result = cli.run(*args, env=UNMEASURED, expect=None)
    assert result.returncode != 0 and "bogus" in result.stderr and "Traceback" not in result.stderr


def test_missing_data_fails_clearly(cli: CLI, tmp_path: Path) -> None:
    result = cli.run(*echo_args(tmp_path / "no-data", tmp_path / "runs"), expect=2)
    assert "data file not found" in result.stderr and str(tmp_path / "no-data") in result.stderr
    assert "Traceback" not in result.stderr


# An invalid run setting is a configuration error: one clear line, exit 2, no traceback.
def test_an_invalid_run_setting_fails_clearly(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    result = cli.run(
        *echo_args(eibench_dir, tmp_path / "runs", "data.limit=1", "run.concurrency=0"), expect=None
    )
    assert result.returncode == 2 and "run.concurrency" in result.stderr
    assert "Traceback" not in result.stderr
