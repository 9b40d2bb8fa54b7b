"""The offline default run, end to end: `eicore run data.root=... data.limit=30`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_default_run_on_thirty_samples(tmp_path: Path, eibench_root: Path) -> None:
    eicore = Path(sys.executable).with_name("eicore")
    env = {**os.environ, "EICORE_CACHE": str(tmp_path / "cache")}
    command = [
        str(eicore), "run", f"data.root={eibench_root}", "data.limit=30",
        f"run.root={tmp_path / 'runs'}", "run.progress=false",
    ]  # fmt: skip
    result = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["recall"]["overall"] <= 1.0
    assert metrics["recall"]["n_scored"] == 30
    assert metrics["judges"][0]["plugin"] == "semantic"
    predictions = (run_dir / "predictions.jsonl").read_text().splitlines()
    assert len(predictions) == 30
    assert "| question-prior / direct / basic |" in result.stdout
