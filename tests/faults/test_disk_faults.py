"""A full disk and an output folder that cannot be written: a clear error naming the file, exit
status 2, the samples finished before it kept, and the same command finishing the run later.

Simulated honestly (the tests run as root, for whom chmod does not make a folder unwritable):
the file size limit ``RLIMIT_FSIZE`` in the eicore process (writes past it fail with EFBIG, as
on a full disk), ``/dev/full`` behind one output file (ENOSPC), and a run root that is a file.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections import Counter
from pathlib import Path

from eicore_test_support import CLI, echo_args, only_run_dir, read_json, read_jsonl

LIMIT = 200_000
"""Bytes any one file may reach: run.sqlite's log reaches it after a few dozen samples."""


def run_with_file_size_limit(cli: CLI, args: list[str]) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))

    command = [sys.executable, "-c", "from eicore.commands.cli import main; main()", "run", *args]
    return subprocess.run(
        command, cwd=cli.cwd, env=cli.env(), preexec_fn=limit,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_full_disk_stops_the_run_clearly_and_the_rerun_finishes(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "echo.log"
    args = echo_args(
        eibench_dir, tmp_path / "runs", "data.limit=400", f"model.log={log}", "run.progress=false"
    )
    full = run_with_file_size_limit(cli, args)
    assert full.returncode == 2, full.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "runs")
    assert str(run_dir / "run.sqlite") in full.stderr or str(cli.cache) in full.stderr
    assert "is the disk full" in full.stderr and "Traceback" not in full.stderr
    partial = read_json(run_dir / "metrics.json")
    assert 0 < partial["n_samples"] < 400 and partial["complete"] is False
    calls_before = len(read_jsonl(log))

    cli.run(*args)  # space again: the same command resumes
    records = read_jsonl(run_dir / "records.jsonl")
    assert len(records) == len({r["sample"]["id"] for r in records}) == 400
    assert {r["status"] for r in records} == {"answered"}
    calls = read_jsonl(log)
    repeated = sum(n - 1 for n in Counter(c["prompt_sha256"] for c in calls).values())
    assert repeated <= 8  # at most the calls in flight when the disk filled (run.concurrency)
    assert calls_before < len(calls)


def test_an_output_file_on_a_full_device_is_a_clear_error(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=6", "run.name=full")
    run_dir = tmp_path / "runs" / "full"
    run_dir.mkdir(parents=True)
    (run_dir / "predictions.jsonl.part").symlink_to("/dev/full")
    result = cli.run(*args, expect=2)
    assert f"cannot write {run_dir / 'predictions.jsonl'}" in result.stderr
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert not (run_dir / "predictions.jsonl.part").exists()  # no half-written file left
    again = cli.run(*args)
    assert "resuming: 6 of 6 samples already answered" in again.stderr  # nothing was lost
    assert len(read_jsonl(run_dir / "predictions.jsonl")) == 6


def test_a_run_root_that_cannot_be_written_fails_before_any_work(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    log = tmp_path / "echo.log"
    result = cli.run(*echo_args(eibench_dir, blocker, f"model.log={log}"), expect=2)
    assert f"cannot write the run directory {blocker}/" in result.stderr
    assert "Traceback" not in result.stderr and not log.exists()
    run_dir = tmp_path / "runs" / "broken"
    (run_dir / "run.sqlite").mkdir(parents=True)  # the store's database is a folder
    result = cli.run(
        *echo_args(eibench_dir, tmp_path / "runs", "run.name=broken", f"model.log={log}"),
        expect=2,
    )
    assert f"cannot open {run_dir / 'run.sqlite'}" in result.stderr
    assert "Traceback" not in result.stderr and not log.exists()
