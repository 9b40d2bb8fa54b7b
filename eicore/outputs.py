"""What a run directory holds besides its store: predictions, records, metrics, config."""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eicore.store import dump_json
from eicore.types import Call, SampleRecord, record_to_dict


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    partial = path.with_suffix(path.suffix + ".part")
    with partial.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    partial.replace(path)


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
    """predictions.jsonl (EIBench's output shape), records.jsonl, metrics.json, and the
    strategy's own files (e.g. captions.jsonl)."""
    predictions = [
        {r.sample.image: r.response.text}
        for r in records
        if r.status == "answered" and r.response is not None
    ]
    write_jsonl(run_dir / "predictions.jsonl", predictions)
    write_jsonl(run_dir / "records.jsonl", [record_to_dict(r) for r in records])
    dump_json(run_dir / "metrics.json", metrics)
    for name, content in artifacts.items():
        path = run_dir / Path(name).name
        if path.suffix == ".jsonl":
            write_jsonl(path, content)
        else:
            dump_json(path, content)
