"""Run directories as the viewer reads them: each run's identity, its summary row and records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from eicore import paper_tables, report
from eicore.data import read_jsonl
from eicore.types import SampleRecord, record_from_dict


class ViewerError(ValueError):
    """A folder or file the viewer cannot use; the message names it."""


@dataclass(frozen=True)
class RunInfo:
    """What the viewer shows about one run directory besides its records."""

    dir: Path
    label: str
    model: str
    strategy: str
    split: str
    image_root: str | None
    metrics: dict[str, Any]


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ViewerError(f"{path}, line {exc.lineno}: malformed JSON ({exc.msg})") from None


def _config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    if not path.is_file():
        return {}
    try:
        tree = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except OmegaConfBaseException as exc:
        raise ViewerError(f"{path}: unreadable config ({exc})") from None
    return {str(k): v for k, v in tree.items()} if isinstance(tree, dict) else {}


def _plugin(config: dict[str, Any], key: str) -> str:
    value = config.get(key)
    return str(value.get("plugin", "?")) if isinstance(value, dict) else "?"


def load_run(run_dir: Path) -> RunInfo:
    """The identity and metrics of the run in ``run_dir`` (a folder holding records.jsonl)."""
    if not (run_dir / "records.jsonl").is_file():
        raise ViewerError(f"{run_dir}: not a run directory (no records.jsonl)")
    config = _config(run_dir)
    metrics_file = run_dir / "metrics.json"
    metrics = read_json(metrics_file) if metrics_file.is_file() else {}
    data = config.get("data")
    data = data if isinstance(data, dict) else {}
    model, strategy = _plugin(config, "model"), _plugin(config, "strategy")
    split = str(data.get("split") or "?")
    label = f"{model} / {strategy} / {split}" if model != "?" else run_dir.name
    root = data.get("image_root")
    return RunInfo(run_dir, label, model, strategy, split, str(root) if root else None, metrics)


def load_records(run_dir: Path) -> list[SampleRecord]:
    """The records of ``records.jsonl``; a malformed line is reported with its number."""
    path = run_dir / "records.jsonl"
    if not path.read_text(encoding="utf-8").strip():
        return []
    records = []
    for number, row in read_jsonl(path, single_key=False):
        try:
            records.append(record_from_dict(row))
        except (KeyError, TypeError) as exc:
            raise ViewerError(f"{path}, line {number}: not a sample record ({exc!r})") from None
    return records


def distinct_labels(runs: Sequence[RunInfo]) -> list[str]:
    """Each run's label, with its directory name added where two runs share a label."""
    labels = [r.label for r in runs]
    return [f"{r.label} ({r.dir.name})" if labels.count(r.label) > 1 else r.label for r in runs]


def summary_rows(runs: Sequence[RunInfo], labels: Sequence[str]) -> list[dict[str, Any]]:
    """One row per run and judge: the paper's columns (×100), the 95% CI of the overall recall,
    and how many samples were scored and failed."""
    rows = []
    for run, label in zip(runs, labels, strict=True):
        m = run.metrics
        by_judge = m.get("recall_by_judge") or ({"": m["recall"]} if "recall" in m else {})
        note = paper_tables.CFSA_NOTE if run.strategy == "cfsa" else None
        base = {"run": label, "n_samples": m.get("n_samples"), "n_failed": m.get("n_failed"),
                "note": note}  # fmt: skip
        if not by_judge:
            rows.append({**base, "judge": None, "cells": None, "ci": None, "n_scored": None})
        for judge, recall in by_judge.items():
            rows.append(
                {
                    **base,
                    "judge": judge or recall.get("judge"),
                    "cells": report.recall_row(recall),
                    "ci": recall.get("ci"),
                    "n_scored": recall.get("n_scored"),
                }
            )
    return rows
