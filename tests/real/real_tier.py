"""What the ``real`` tier's tests share: settings, ``eicore run`` and reading its answers."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eicore.testing.runs import read_jsonl, run_eicore

OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "OMP_NUM_THREADS": "1",  # one torch thread in every process these tests start
}
ANSWER_TOKENS = 12
"""Short greedy answers: the tier tests plumbing, not the benchmark."""
SAMPLES = 2


@dataclass(frozen=True)
class Server:
    """A server process the tier started, on 127.0.0.1."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path


def eicore_run(folder: Path, env: dict[str, str], *overrides: str, expect: int = 0) -> Path:
    """``eicore run`` as a user runs it, torch on one thread; the run directory, after
    checking it exited ``expect`` (1: no sample was answered)."""
    result = run_eicore(*overrides, "run.threads=1", folder=folder, env=env, timeout=900)
    assert result.returncode == expect, result.stderr[-3000:]
    (run_dir,) = (folder / "runs").iterdir()
    return run_dir


def answers(run_dir: Path) -> dict[str, dict[str, Any]]:
    """``{image: the answering call's completion}`` of every record, all answered."""
    records = read_jsonl(run_dir / "records.jsonl")
    assert [r["status"] for r in records] == ["answered"] * len(records), records
    return {r["sample"]["image"]: r["response"]["trace"][-1]["completion"] for r in records}
