"""Offline settings, and the EIBench annotations the tests read (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

EIBENCH = Path(os.environ.get("EIBENCH_ROOT", "/work/shared/eibench"))


@pytest.fixture(scope="session")
def eibench_root() -> Path:
    if not (EIBENCH / "user.jsonl").is_file():
        pytest.skip(f"EIBench annotations not found in {EIBENCH} (set EIBENCH_ROOT)")
    return EIBENCH
