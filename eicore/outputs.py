"""What a run directory holds besides its store: predictions, records, metrics, config."""

from __future__ import annotations

import collections
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from loguru import logger
from omegaconf import DictConfig

from eicore.store import StoreError, dump_json, write_atomically
from eicore.types import Call, SampleRecord, record_to_dict
from eicore.viewer import write_report


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line, written atomically (a failure is a StoreError)."""
    write_atomically(path, (json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def run_counts(
    records: Sequence[SampleRecord], cost: Callable[[Call], float | None] | None = None
) -> dict[str, Any]:
    """Sample and call counts over every record of the run, whichever invocation made it.

    With ``cost`` (a call's estimated dollars, or None when unpriced), ``cost_usd`` sums the
    calls made; cached calls cost nothing. It is left out when no call has a price.
    """
    calls = [c for r in records if r.response for c in r.response.trace]
    errors = collections.Counter(r.error_type for r in records if r.status == "failed")
    counts: dict[str, Any] = {
        "n_samples": len(records),
        "n_answered": sum(r.status == "answered" for r in records),
        "n_failed": sum(r.status == "failed" for r in records),
        "errors": dict(sorted(errors.items())),
        "calls_made": sum(not c.cached for c in calls),
        "calls_cached": sum(c.cached for c in calls),
        "tokens": {
            "input": sum(c.completion.input_tokens or 0 for c in calls),
            "output": sum(c.completion.output_tokens or 0 for c in calls),
        },
    }
    prices = [cost(c) for c in calls if not c.cached] if cost else []
    priced = [p for p in prices if p is not None]
    if priced:
        counts["cost_usd"] = {
            "estimated": round(sum(priced), 6),
            "calls_priced": len(priced),
            "calls_unpriced": len(prices) - len(priced),
        }
    return counts


def write_run(
    run_dir: Path,
    records: Sequence[SampleRecord],
    metrics: dict[str, Any],
    artifacts: dict[str, Any],
) -> None:
    """predictions.jsonl (EIBench's output shape), records.jsonl, metrics.json, the
    strategy's own files (e.g. captions.jsonl) and report.html (the viewer)."""
    predictions = [
        {r.sample.image: r.response.text}
        for r in records
        if r.status == "answered" and r.response is not None
    ]
    write_jsonl(run_dir / "predictions.jsonl", predictions)
    write_jsonl(run_dir / "records.jsonl", (record_to_dict(r) for r in records))  # one at a time
    dump_json(run_dir / "metrics.json", metrics)
    for name, content in artifacts.items():
        path = run_dir / Path(name).name
        if path.suffix == ".jsonl":
            write_jsonl(path, content)
        else:
            dump_json(path, content)
    try:
        write_report(run_dir, [run_dir])
    except StoreError:
        raise
    except Exception as exc:  # the viewer page is a convenience: it never costs a run's results
        logger.warning("report.html not written: {}: {}", type(exc).__name__, exc)


class RunDirectoryCheck(Callback):
    """Hydra callback: make the run (or sweep) folder before the job starts, so that a run root
    that cannot be written (a file, a read-only path) ends the command with one clear line and
    exit status 2, before any data is read or any model called."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)  # run.name reads Hydra's choices
        _make_folder(Path(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)
        _make_folder(Path(config.hydra.sweep.dir))


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(
            f"eicore: cannot write the run directory {folder}: {exc}; set run.root", file=sys.stderr
        )
        raise SystemExit(2) from None
