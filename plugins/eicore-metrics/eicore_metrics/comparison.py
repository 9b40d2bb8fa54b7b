"""``eicore compare``: two runs' recall under one judge, paired on the samples both scored."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from eicore import EMOTIONS, SampleRecord, read_run
from eicore_metrics.recall import judge_names, scored_samples
from eicore_metrics.statistics import Bootstrap, paired_difference


def load_records(run_dir: Path) -> list[SampleRecord]:
    """The records of a run directory (or of a re-score folder under ``<run>/scores``), through
    eicore's run log reader."""
    if not (run_dir / "records.jsonl").is_file():
        raise FileNotFoundError(f"{run_dir / 'records.jsonl'}: not found; give a run directory")
    return read_run(run_dir).samples


def compare_runs(a: Path, b: Path, judge: str | None, boot: Bootstrap) -> dict[str, Any]:
    """Paired bootstrap of recall(A) − recall(B), overall and per emotion, under ``judge``
    (default: A's first judge, which B must also have)."""
    records_a, records_b = load_records(a), load_records(b)
    judge = judge or next(iter(judge_names(records_a)), None)
    for run, records in ((a, records_a), (b, records_b)):
        if judge is None or judge not in judge_names(records):
            raise ValueError(f"{run}: no judgments by {judge!r} (judges: {judge_names(records)})")
    assert judge is not None
    scores_a, _ = scored_samples(records_a, judge)
    scores_b, _ = scored_samples(records_b, judge)
    shared = [i for i in scores_a if i in scores_b]
    if not shared:
        raise ValueError(f"{a} and {b} share no sample scored by {judge!r}")
    result: dict[str, Any] = {
        "judge": judge,
        "runs": [str(a), str(b)],
        "n_scored": [len(scores_a), len(scores_b)],
        "n_shared": len(shared),
        "bootstrap": dataclasses.asdict(boot),
    }
    pairs = {"overall": shared}
    for emotion in EMOTIONS:
        pairs[emotion] = [i for i in shared if scores_a[i].emotion == emotion]
    for cell, ids in pairs.items():
        if ids:
            diff = paired_difference(
                [scores_a[i].score for i in ids], [scores_b[i].score for i in ids], boot
            )
            result[cell] = dataclasses.asdict(diff)
    return result


def comparison_table(result: dict[str, Any]) -> str:
    """One line per cell: n, A, B, A−B with its CI, p (recall ×100)."""
    a, b = result["runs"]
    level = f"{100 * result['bootstrap']['level']:g}% CI"
    lines = [
        f"A = {a}",
        f"B = {b}",
        (
            f"judge {result['judge']}; {result['n_shared']} shared samples "
            f"(scored: A {result['n_scored'][0]}, B {result['n_scored'][1]})"
        ),
        f"{'cell':<8} {'n':>5} {'A':>7} {'B':>7} {'A-B':>7} {level:>17} {'p':>7}",
    ]
    for cell in ("overall", *EMOTIONS):
        if cell in result:
            d = result[cell]
            lo, hi = (100 * v for v in d["ci"])
            lines.append(
                f"{cell:<8} {d['n']:>5} {100 * d['mean_a']:>7.2f} {100 * d['mean_b']:>7.2f} "
                f"{100 * d['difference']:>7.2f} {f'[{lo:.2f}, {hi:.2f}]':>17} {d['p_value']:>7.4f}"
            )
    return "\n".join(lines)
