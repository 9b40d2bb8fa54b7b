"""Emotional-trigger recall as EIBench defines it: per sample recalled/total, averaged."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from statistics import fmean
from typing import Any

from eicore import EMOTIONS, Metric, SampleRecord


def recall_summary(records: Sequence[SampleRecord], judge: str) -> dict[str, Any]:
    """Micro (sample-weighted, the paper's "overall") and macro means of one judge's scores.

    Only answered samples with a parsed judgment count; failed samples and unparsed or errored
    judgments are excluded from the means and counted.
    """
    by_emotion: dict[str, list[float]] = defaultdict(list)
    scores: list[float] = []
    unparsed = 0
    for record in records:
        if record.status != "answered":
            continue
        judgment = next((j for j in record.judgments if j.judge == judge), None)
        if judgment is None or judgment.score is None:
            unparsed += 1
            continue
        scores.append(judgment.score)
        if record.sample.emotion:
            by_emotion[record.sample.emotion].append(judgment.score)
    order = [e for e in EMOTIONS if e in by_emotion] + sorted(set(by_emotion) - set(EMOTIONS))
    means = {e: fmean(by_emotion[e]) for e in order}
    return {
        "judge": judge,
        "overall": fmean(scores) if scores else None,
        "macro": fmean(means.values()) if means else None,
        "by_emotion": means,
        "n_scored": len(scores),
        "n_unjudged": unparsed,
        "n_by_emotion": {e: len(by_emotion[e]) for e in order},
    }


class TriggerRecall(Metric):
    """``recall`` in metrics.json, for the run's judge."""

    def compute(self, records: Sequence[SampleRecord]) -> dict[str, Any]:
        judges = list(dict.fromkeys(j.judge for r in records for j in r.judgments))
        if not judges:
            return {"recall": {"overall": None, "macro": None, "by_emotion": {}, "n_scored": 0}}
        return {"recall": recall_summary(records, judges[0])}
