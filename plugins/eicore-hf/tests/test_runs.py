"""``eicore run model=hf`` end to end, in a subprocess: EIBench samples with synthetic images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from eicore_hf.tiny import SPECIAL_TOKENS

LIMIT = 6


def eicore(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``eicore run <args>`` with the call cache in ``cwd/cache``."""
    env = {**env, "EICORE_CACHE": str(cwd / "cache")}
    command = [sys.executable, "-m", "eicore", "run", *args]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def read_jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def only_dir(root: Path) -> Path:
    (run_dir,) = root.iterdir()
    return run_dir


def test_tiny_llava_on_eibench_end_to_end(
    tiny_llava: Path,
    eibench_dir: Path,
    image_root: Path,
    tmp_path: Path,
    child_env: dict[str, str],
) -> None:
    args = [
        "model=hf", f"model.path={tiny_llava}", f"data.root={eibench_dir}",
        f"data.image_root={image_root}", f"data.limit={LIMIT}", "run.progress=false",
    ]  # fmt: skip
    first = eicore(tmp_path, child_env, *args, f"run.root={tmp_path / 'runs'}")
    run_dir = only_dir(tmp_path / "runs")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (metrics["n_samples"], metrics["n_failed"]) == (LIMIT, 0)
    assert metrics["recall"]["n_scored"] == LIMIT
    assert "| hf / direct / basic |" in first.stdout
    records = read_jsonl(run_dir / "records.jsonl")
    images = [r["sample"]["image"] for r in records]
    assert images == [next(iter(p)) for p in read_jsonl(eibench_dir / "user.jsonl")[:LIMIT]]
    for record in records:
        assert record["status"] == "answered"
        (call,) = record["response"]["trace"]
        assert "image_sha256" in call["prompt"][0]["parts"][0]  # the image was sent
        completion = call["completion"]
        assert completion["finish_reason"] in {"stop", "length"}
        assert 0 < completion["output_tokens"] <= 512
        assert not any(t in completion["text"] for t in SPECIAL_TOKENS)
    predictions = read_jsonl(run_dir / "predictions.jsonl")
    assert [next(iter(p)) for p in predictions] == images

    # Another run directory, the same call cache: every answer comes from the cache.
    again = eicore(tmp_path, child_env, *args, f"run.root={tmp_path / 'again'}")
    assert f"0 calls made, {LIMIT} cached" in again.stderr
    again_records = read_jsonl(only_dir(tmp_path / "again") / "records.jsonl")
    assert [r["response"]["text"] for r in again_records] == [
        r["response"]["text"] for r in records
    ]


def test_text_llm_answers_from_the_llava_caption(
    tiny_llava: Path,
    tiny_llama: Path,
    eibench_dir: Path,
    image_root: Path,
    tmp_path: Path,
    child_env: dict[str, str],
) -> None:
    """The paper's text-only row: a VLM captions, a causal LM answers without the image."""
    eicore(
        tmp_path, child_env, "strategy=caption", "strategy.answerer_sees_image=false",
        "model=hf", f"model.path={tiny_llama}", "model.max_new_tokens=16",
        "+model@roles.captioner=hf", f"roles.captioner.path={tiny_llava}",
        "roles.captioner.max_new_tokens=16", "~judge", "metrics=[]",
        f"data.root={eibench_dir}", f"data.image_root={image_root}", "data.limit=4",
        f"run.root={tmp_path / 'runs'}", "run.progress=false",
    )  # fmt: skip
    run_dir = only_dir(tmp_path / "runs")
    records = read_jsonl(run_dir / "records.jsonl")
    assert [r["status"] for r in records] == ["answered"] * 4
    for record in records:
        captioner, answerer = record["response"]["trace"]
        assert captioner["role"] == "captioner" and answerer["role"] == "answerer"
        assert "image_sha256" in captioner["prompt"][0]["parts"][0]
        assert all("text" in part for part in answerer["prompt"][0]["parts"])  # no image
        assert captioner["completion"]["text"] in answerer["prompt"][0]["parts"][0]["text"]
    captions = read_jsonl(run_dir / "captions.jsonl")
    assert len(captions) == 4


def test_text_llm_alone_needs_no_images(
    tiny_llama: Path,
    eibench_dir: Path,
    tmp_path: Path,
    child_env: dict[str, str],
) -> None:
    eicore(
        tmp_path, child_env, "model=hf", f"model.path={tiny_llama}", "model.max_new_tokens=16",
        "model.batch_size=3", "~judge", "metrics=[]", f"data.root={eibench_dir}",
        "data.limit=5", f"run.root={tmp_path / 'runs'}", "run.progress=false",
    )  # fmt: skip
    records = read_jsonl(only_dir(tmp_path / "runs") / "records.jsonl")
    assert [r["status"] for r in records] == ["answered"] * 5
    for record in records:
        (call,) = record["response"]["trace"]
        assert list(call["prompt"][0]["parts"][0]) == ["text"]
        assert record["sample"]["question"] in call["prompt"][0]["parts"][0]["text"]
