"""``eicore merge``: shards of one run (``data.shard=i/n``) merge into the run an unsharded job
makes, with equal metrics (bootstrap CIs included); shards that do not belong together are
refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from eicore_test_support import CLI, echo_args, only_run_dir, read_json, read_jsonl

# 11 basic samples over three emotions (every 160th question), given by id so that sharding
# partitions them (data.limit applies within each shard).
IDS = "data.ids=[{}]"


@pytest.fixture
def ids(eibench_dir: Path) -> str:
    rows = read_jsonl(eibench_dir / "user.jsonl")[::160]
    return IDS.format(",".join(next(iter(r)) for r in rows))


@pytest.fixture
def shards(cli: CLI, eibench_dir: Path, tmp_path: Path, ids: str) -> list[Path]:
    args = echo_args(eibench_dir, tmp_path / "shards", ids, "data.shard=0/3,1/3,2/3")
    cli.run(*args, flags=["-m"])
    dirs = sorted(p.parent for p in (tmp_path / "shards" / "sweeps").glob("*/metrics.json"))
    assert len(dirs) == 3
    return dirs


def test_merged_shards_equal_the_unsharded_run(
    cli: CLI, eibench_dir: Path, tmp_path: Path, ids: str, shards: list[Path]
) -> None:
    cli.run(*echo_args(eibench_dir, tmp_path / "whole", ids))
    whole = only_run_dir(tmp_path / "whole")
    merged = Path(cli("merge", *(str(s) for s in reversed(shards))).stdout.strip())
    assert merged.name == whole.name  # the same config hash: the unsharded run's identity
    a, b = read_json(whole / "metrics.json"), read_json(merged / "metrics.json")
    assert a["recall"]["n_scored"] == 11 and a["recall"]["ci"] is not None
    for key in ("complete", "n_samples", "n_answered", "n_failed", "recall", "recall_by_judge"):
        assert a[key] == b[key], key
    assert a["provenance"]["config_hash"] == b["provenance"]["config_hash"]
    assert b["provenance"]["merged_from"] == [str(s) for s in sorted(shards, key=shard_index)]
    assert read_jsonl(merged / "predictions.jsonl") == read_jsonl(whole / "predictions.jsonl")
    ids_of = [[r["sample"]["id"] for r in read_jsonl(d / "records.jsonl")] for d in (whole, merged)]
    assert ids_of[0] == ids_of[1]

    # a valid run directory: `eicore score` re-judges it, `eicore report` summarises it
    scored = cli("score", str(merged))
    assert "scored by keyword: 11 of 11 samples" in scored.stdout
    report = cli("report", str(merged))
    assert "| direct  | echo  |" in report.stdout
    # and `eicore run` with the same config, pointed at it, resumes it with nothing to do
    again = cli.run(*echo_args(eibench_dir, merged.parent, ids))
    assert "0 answered, 0 failed, 11 resumed; 0 calls made" in again.stderr


def shard_index(path: Path) -> int:
    config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8"))
    return int(config["data"]["shard"].split("/")[0])


def test_missing_and_overlapping_shards_are_refused(cli: CLI, shards: list[Path]) -> None:
    missing = cli("merge", str(shards[0]), str(shards[1]), expect=2)
    assert "missing shards:" in missing.stderr and "/3" in missing.stderr
    overlap = cli("merge", str(shards[0]), str(shards[0]), str(shards[1]), expect=2)
    assert "overlapping shards:" in overlap.stderr


def test_shards_of_another_config_are_refused(
    cli: CLI, eibench_dir: Path, tmp_path: Path, ids: str, shards: list[Path]
) -> None:
    args = echo_args(eibench_dir, tmp_path / "other", ids, "data.shard=2/3", "strategy=cot")
    cli.run(*args)
    other = only_run_dir(tmp_path / "other")
    result = cli("merge", str(shards[0]), str(shards[1]), str(other), expect=2)
    assert "is not a shard of the same run" in result.stderr and "strategy" in result.stderr
    not_a_run = cli("merge", str(tmp_path / "other"), expect=2)
    assert f"{tmp_path / 'other'}: not a finished run directory" in not_a_run.stderr
