"""Discovering the plugin and building its judge must not import torch or sentence-transformers."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import eicore_metrics
from eicore import build
judge = build("judge", {"plugin": "semantic"})
judge.describe()
print(sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules))
"""


def test_registry_and_judge_construction_stay_light() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
