"""Run logs as the viewer shows them: each run's identity and its summary rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eicore.log import RunLog, RunLogError
from eicore.log import read as read_log
from eicore.paper import tables
from eicore.report import run_tables
from eicore.types import SampleRecord

ViewerError = RunLogError
"""A folder or file the viewer cannot use; the message names it (the run log reader's error, so
a malformed run directory reads the same in every command)."""


@dataclass(frozen=True)
class RunInfo:
    """What the viewer shows about one run besides its records."""

    log: RunLog
    label: str
    model: str
    strategy: str
    split: str
    image_root: str | None

    @property
    def name(self) -> str:
        return self.log.dir.name if self.log.dir else self.label


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ViewerError(f"{path}, line {exc.lineno}: malformed JSON ({exc.msg})") from None


def _plugin(config: dict[str, Any], key: str) -> str:
    value = config.get(key)
    return str(value.get("plugin", "?")) if isinstance(value, dict) else "?"


def run_info(log: RunLog) -> RunInfo:
    """The identity of the run ``log`` records, from its config."""
    config = log.config or {}
    data = config.get("data")
    data = data if isinstance(data, dict) else {}
    model, strategy = _plugin(config, "model"), _plugin(config, "strategy")
    split = str(data.get("split") or "?")
    fallback = log.dir.name if log.dir else "run"
    label = f"{model} / {strategy} / {split}" if model != "?" else fallback
    root = data.get("image_root")
    return RunInfo(log, label, model, strategy, split, str(root) if root else None)


def load_run(run_dir: Path) -> RunInfo:
    """The run in ``run_dir``, through the run log reader."""
    return run_info(read_log(run_dir))


def load_records(run_dir: Path) -> list[SampleRecord]:
    """The records of ``run_dir`` (its records.jsonl), in the run's order."""
    return read_log(run_dir).samples


def distinct_labels(runs: Sequence[RunInfo]) -> list[str]:
    """Each run's label, with its directory name added where two runs share a label."""
    labels = [r.label for r in runs]
    return [f"{r.label} ({r.name})" if labels.count(r.label) > 1 else r.label for r in runs]


def summary_rows(runs: Sequence[RunInfo], labels: Sequence[str]) -> list[dict[str, Any]]:
    """One row per run and judge: the paper's columns (×100), the 95% CI of the overall recall,
    overall precision and F1 (×100; ``—`` for judges without them), and how many samples were
    scored and failed."""
    rows = []
    for run, label in zip(runs, labels, strict=True):
        done = run.log.completeness
        note = tables.CFSA_NOTE if run.strategy == "cfsa" else None
        base = {"run": label, "n_samples": done.n_samples, "n_failed": done.n_failed,
                "note": note}  # fmt: skip
        by_judge = run.log.recall_by_judge
        if not by_judge:
            rows.append({**base, "judge": None, "cells": None, "ci": None, "n_scored": None})
        precisions = run_tables.measure_by_judge(run.log, "precision")
        f1s = run_tables.measure_by_judge(run.log, "f1")
        for judge, recall in by_judge.items():
            precision, f1 = precisions.get(judge), f1s.get(judge)
            rows.append(
                {
                    **base,
                    "judge": judge,
                    "cells": run_tables.recall_row(recall),
                    "ci": recall.ci,
                    "n_scored": recall.n_scored,
                    "precision": run_tables.pct(precision.overall if precision else None),
                    "f1": run_tables.pct(f1.overall if f1 else None),
                }
            )
    return rows
