"""Process faults: ``eicore run`` killed with SIGKILL at seeded random points, stopped with
SIGINT, and started twice on one run directory. After every fault the run store holds each
sample at most once, and rerunning the same command finishes the run with no call repeated
whose answer had been saved, and with the metrics of a run that was never interrupted.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eicore_test_support import CLI, echo_args, only_run_dir, read_json, read_jsonl

from eicore.datasets.samples import DataConfig, load_basic, select
from eicore.types import Sample

SELECTION = ("data.shard=2/80",)  # 21 samples whose questions (and echo answers) all differ
CONCURRENCY = 3
DELAY = 0.2
"""Seconds per echo call: the sample phase of a run lasts about a second."""


def selected(eibench_dir: Path) -> list[Sample]:
    basic = load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json")
    return select(basic, DataConfig(shard="2/80"))


def log_lines(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path) if path.exists() else []


def cached_answers(cache: Path) -> set[str]:
    """The completion texts the call cache holds (committed rows only, as a rerun sees them)."""
    path = cache / "calls.sqlite"
    if not path.exists():
        return set()
    db = sqlite3.connect(path)
    try:
        return {json.loads(row[0])["text"] for row in db.execute("SELECT completion FROM calls")}
    except sqlite3.OperationalError:  # killed before the table was made
        return set()
    finally:
        db.close()


def stored_statuses(run_root: Path) -> Counter[str]:
    """Status counts in run.sqlite; the primary key makes each sample appear at most once."""
    dirs = list(run_root.iterdir()) if run_root.exists() else []
    path = dirs[0] / "run.sqlite" if dirs else None
    if path is None or not path.exists():
        return Counter()
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT sample_id, status FROM records").fetchall()
    except sqlite3.OperationalError:
        return Counter()
    finally:
        db.close()
    assert len({r[0] for r in rows}) == len(rows)
    return Counter(status for _, status in rows)


@dataclass
class Chain:
    """One run directory taken through a series of faults, then run to completion."""

    cli: CLI
    args: list[str]
    log: Path
    root: Path
    total: int
    kills: list[dict[str, Any]] = field(default_factory=list)
    """Per fault: the kill point, what the store and cache held after it, and the calls made."""

    def start(self, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        command = [sys.executable, "-c", "from eicore_entry import main; main()", "run", *self.args]
        return subprocess.Popen(
            command,
            cwd=self.cli.cwd,
            env=self.cli.env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def fault(self, rng: random.Random, sig: signal.Signals) -> subprocess.CompletedProcess[str]:
        """Start the run and send ``sig`` at a seeded point: mostly while samples are answered
        (after k of this invocation's calls, k under a third of the samples not yet answered,
        plus up to one call's time), sometimes during start-up (a time from the process start)."""
        remaining = self.total - sum(stored_statuses(self.root).values())
        before = len(log_lines(self.log))
        started = time.monotonic()
        proc = self.start()
        if rng.random() < 0.2:
            point: tuple[str, float] = ("start-up", rng.uniform(0.0, 0.55))
            while proc.poll() is None and not importing_eicore(proc.pid):
                time.sleep(0.002)
            time.sleep(point[1])  # somewhere in the imports, the config, the store's opening
        else:
            calls = rng.randrange(1, max(2, remaining // 3 + 1))
            point = ("calls", calls + rng.random())
            while proc.poll() is None and len(log_lines(self.log)) < before + calls:
                time.sleep(0.002)
            time.sleep(DELAY * (point[1] - calls))
        finished = proc.poll() is not None
        if not finished:
            proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
        self.kills.append(
            {
                "point": point,
                "seconds": round(time.monotonic() - started, 2),
                "finished_first": finished,
                "returncode": proc.returncode,
                "calls_logged": len(log_lines(self.log)),
                "cached": cached_answers(self.cli.cache),
            }
        )
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def importing_eicore(pid: int) -> bool:
    """Whether the process has begun importing eicore (sqlite3's extension, which eicore's
    store imports and Python's own start-up does not, is mapped): its Ctrl-C handling is in
    place from the entry point's first line, before any such import."""
    try:
        return "_sqlite3" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def check_completed(chain: Chain, samples: list[Sample], run_root: Path, fresh: dict) -> None:
    """Every sample exactly once and answered; no call repeated whose answer had been cached
    at a fault; the metrics those of an uninterrupted run."""
    run_dir = only_run_dir(run_root)
    records = read_jsonl(run_dir / "records.jsonl")
    ids = [r["sample"]["id"] for r in records]
    assert sorted(ids) == sorted(s.id for s in samples), "a sample is missing or repeated"
    assert {r["status"] for r in records} == {"answered"}
    calls = log_lines(chain.log)
    for kill in chain.kills:
        later = [c["answer"] for c in calls[kill["calls_logged"] :]]
        repeated = set(later) & kill["cached"]
        assert not repeated, f"calls repeated after {kill['point']}: {sorted(repeated)[:3]}"
    # calls repeated at all: only those in flight at a kill, whose answers were never saved
    extra = len(calls) - len({c["answer"] for c in calls})
    assert extra <= CONCURRENCY * len(chain.kills)
    metrics = read_json(run_dir / "metrics.json")
    # every call counted as made exactly once, whichever process made it (one per sample)
    assert metrics["calls_made"] == len(samples), metrics["calls_made"]
    keys = ("n_samples", "n_answered", "n_failed", "recall", "complete")
    assert {k: metrics[k] for k in keys} == {k: fresh[k] for k in keys}
    assert read_jsonl(run_dir / "predictions.jsonl") == fresh["predictions"]


@pytest.fixture(scope="module")
def uninterrupted(
    echo_site: Path, eibench_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """Metrics and predictions of the same run, never interrupted (fresh cache and root)."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    (folder / "cwd").mkdir()
    cli = CLI([echo_site], folder / "cache", folder / "cwd")
    cli.run(*echo_args(eibench_dir, folder / "runs", *SELECTION))
    run_dir = only_run_dir(folder / "runs")
    return {
        **read_json(run_dir / "metrics.json"),
        "predictions": read_jsonl(run_dir / "predictions.jsonl"),
    }


def chain_for(cli: CLI, eibench_dir: Path, tmp_path: Path) -> tuple[Chain, Path]:
    """A chain over the selected samples, with its run root."""
    log = tmp_path / "echo.log"
    root = tmp_path / "runs"
    args = echo_args(
        eibench_dir,
        root,
        *SELECTION,
        f"run.concurrency={CONCURRENCY}",
        f"model.delay={DELAY}",
        f"model.log={log}",
        "run.progress=false",
    )
    return Chain(cli, args, log, root, len(selected(eibench_dir))), root


@pytest.mark.parametrize("seed", range(4))
def test_sigkill_at_random_points_then_rerun_loses_and_repeats_nothing(
    cli: CLI, eibench_dir: Path, tmp_path: Path, uninterrupted: dict, seed: int
) -> None:
    """Six seeded SIGKILLs per seed (24 in all) on one run directory, then the rerun."""
    samples = selected(eibench_dir)
    assert len({s.question for s in samples}) == len(samples) == 21
    chain, root = chain_for(cli, eibench_dir, tmp_path)
    rng = random.Random(seed)
    for _ in range(6):
        result = chain.fault(rng, signal.SIGKILL)
        assert result.returncode in (-signal.SIGKILL, 0), result.stderr[-2000:]
        statuses = stored_statuses(root)
        assert set(statuses) <= {"answered"} and sum(statuses.values()) <= len(samples)
    killed = [k for k in chain.kills if not k["finished_first"]]
    assert len(killed) >= 5, [(k["point"], k["finished_first"]) for k in chain.kills]
    final = cli.run(*chain.args)
    assert "Traceback" not in final.stderr
    check_completed(chain, samples, root, uninterrupted)


def test_sigint_stops_cleanly_with_a_summary_and_exit_130(
    cli: CLI, eibench_dir: Path, tmp_path: Path, uninterrupted: dict
) -> None:
    samples = selected(eibench_dir)
    chain, root = chain_for(cli, eibench_dir, tmp_path)
    rng = random.Random(1)  # one point in start-up, two while samples are answered
    summaries = 0
    for _ in range(3):
        result = chain.fault(rng, signal.SIGINT)
        if chain.kills[-1]["finished_first"]:
            continue
        assert result.returncode == 130, result.stderr[-3000:]
        assert "interrupted; finished samples are saved" in result.stderr
        assert "Traceback" not in result.stderr
        if "this invocation:" in result.stderr:  # stopped after start-up: the summary is there
            summaries += 1
            metrics = read_json(only_run_dir(root) / "metrics.json")
            assert metrics["n_samples"] == sum(stored_statuses(root).values())
            assert f"stopped with {metrics['n_samples']} of 21 samples done" in result.stderr
    assert summaries >= 2, [(k["point"], k["returncode"], k["finished_first"]) for k in chain.kills]
    cli.run(*chain.args)
    check_completed(chain, samples, root, uninterrupted)


def test_a_second_process_on_the_same_run_directory_is_refused(
    cli: CLI, eibench_dir: Path, tmp_path: Path, uninterrupted: dict
) -> None:
    """The decision: one process per run directory (a lock); the second exits 2 at once."""
    samples = selected(eibench_dir)
    chain, root = chain_for(cli, eibench_dir, tmp_path)
    release = tmp_path / "release"
    first = chain.start({"ECHO_HOLD": str(release)})  # its calls wait until `release` exists
    while not Path(f"{release}.waiting").exists():  # the first holds the run dir and is calling
        assert first.poll() is None, first.communicate()
        time.sleep(0.01)
    second = cli.run(*chain.args, expect=2)
    assert "is in use by another eicore process" in second.stderr
    assert str(only_run_dir(root)) in second.stderr and "Traceback" not in second.stderr
    release.touch()
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr[-3000:]
    assert {c["pid"] for c in log_lines(chain.log)} == {first.pid}  # the second called nothing
    assert len(log_lines(chain.log)) == len(samples)
    check_completed(chain, samples, root, uninterrupted)
