"""docs/notebooks.md runs as written: its Python blocks, in order, in one fresh interpreter, on
the real EIBench files (the page's data folder swapped for the test data's)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from eicore_test_support import API_KEYS, EICORE_ENV, OFFLINE

PAGE = Path(__file__).resolve().parents[1] / "docs" / "notebooks.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def page_code(eibench_dir: Path) -> str:
    code = "\n".join(BLOCK.findall(PAGE.read_text(encoding="utf-8")))
    swapped, n = re.subn(r'^EIBENCH = ".*"$', f"EIBENCH = {str(eibench_dir)!r}", code, flags=re.M)
    assert n == 1, "the page names its data folder once, as EIBENCH"
    return swapped


def test_the_notebook_page_runs(eibench_dir: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (*API_KEYS, *EICORE_ENV)}
    env.update(OFFLINE, EICORE_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-c", page_code(eibench_dir)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("question-prior__direct__basic__")
    assert str(Path("runs") / run_dir.name) in proc.stdout
    assert "calls made by the answerer" in proc.stdout
