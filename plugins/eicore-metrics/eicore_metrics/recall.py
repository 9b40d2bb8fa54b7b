"""Emotional-trigger recall as EIBench defines it: per sample recalled/total, averaged, with
bootstrap CIs per cell; with several judges, each judge's recall and their agreement.

Beside recall, for judges that say which answer items some trigger supports: precision (per
sample, supported items / items) and F1 (per sample, the harmonic mean of that sample's recall
and precision), averaged the same way. Recall alone rewards listing everything; precision
does not."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from statistics import fmean
from typing import Any, Literal

from eicore import EMOTIONS, Metric, Recall, SampleRecord
from eicore_metrics.statistics import Bootstrap, agreement, macro_ci, mean_ci


@dataclass
class TriggerRecallConfig:
    resamples: int = 1000
    """Bootstrap resamples for every confidence interval."""
    seed: int = 0
    level: float = 0.95
    kappa_bins: int = 4
    """Equal-width bins of [0, 1] on which judges' agreement (Cohen's kappa) is computed."""


@dataclass(frozen=True)
class ScoredSample:
    emotion: str | None
    score: float


def judge_names(records: Sequence[SampleRecord]) -> list[str]:
    """The judges of a run, in the order they judged."""
    return list(dict.fromkeys(j.judge for r in records for j in r.judgments))


Measure = Literal["score", "precision", "f1"]
"""A per-sample value of a judgment: recall (``score``), precision or F1."""
MEASURES: dict[str, Measure] = {"recall": "score", "precision": "precision", "f1": "f1"}
"""metrics.json's name of each measure → the judgment's property."""


def scored_samples(
    records: Sequence[SampleRecord], judge: str, measure: Measure = "score"
) -> tuple[dict[str, ScoredSample], int]:
    """Sample id → ``measure`` of each answered sample ``judge`` scored; and how many it did not
    (unparsed, errored or missing judgments, or no answer items for precision and F1). Failed
    samples are neither."""
    scored: dict[str, ScoredSample] = {}
    unjudged = 0
    for record in records:
        if record.status != "answered":
            continue
        judgment = next((j for j in record.judgments if j.judge == judge), None)
        value = None if judgment is None else getattr(judgment, measure)
        if value is None:
            unjudged += 1
        else:
            scored[record.sample.id] = ScoredSample(record.sample.emotion, value)
    return scored, unjudged


def recall_summary(
    records: Sequence[SampleRecord],
    judge: str,
    boot: Bootstrap | None = None,
    measure: Measure = "score",
) -> dict[str, Any]:
    """Micro (sample-weighted, the paper's "overall") and macro means of one judge's scores,
    with bootstrap CIs when ``boot`` is given.

    Only answered samples with a parsed judgment count; failed samples and unparsed or errored
    judgments are excluded from the means and counted.
    """
    scored, unjudged = scored_samples(records, judge, measure)
    scores = [s.score for s in scored.values()]
    by_emotion: dict[str, list[float]] = defaultdict(list)
    for s in scored.values():
        if s.emotion:
            by_emotion[s.emotion].append(s.score)
    order = [e for e in EMOTIONS if e in by_emotion] + sorted(set(by_emotion) - set(EMOTIONS))
    means = {e: fmean(by_emotion[e]) for e in order}
    summary: dict[str, Any] = {
        "judge": judge,
        "overall": fmean(scores) if scores else None,
        "macro": fmean(means.values()) if means else None,
        "by_emotion": means,
        "n_scored": len(scores),
        "n_unjudged": unjudged,
        "n_by_emotion": {e: len(by_emotion[e]) for e in order},
    }
    if boot is not None:
        summary["ci"] = mean_ci(scores, boot)
        summary["ci_macro"] = macro_ci({e: by_emotion[e] for e in order}, boot)
        summary["ci_by_emotion"] = {e: mean_ci(by_emotion[e], boot) for e in order}
        summary["bootstrap"] = dataclasses.asdict(boot)
    return summary


def judge_agreement(
    records: Sequence[SampleRecord], first: str, second: str, bins: int
) -> dict[str, Any]:
    """Agreement of two judges on the answers both scored."""
    a, _ = scored_samples(records, first)
    b, _ = scored_samples(records, second)
    shared = [i for i in a if i in b]
    stats = agreement([a[i].score for i in shared], [b[i].score for i in shared], bins)
    return {"judges": [first, second], **stats}


class TriggerRecall(Metric):
    """``recall`` (a :class:`eicore.Recall`) for the run's first judge, ``recall_by_judge`` for
    each, and ``judge_agreement`` for every pair of judges. The core's tables, plots and viewer
    show the typed recalls, whatever the keys. ``precision`` / ``f1`` (and ``_by_judge``), in
    recall's shape, for the judges that flag answer items."""

    config: TriggerRecallConfig

    def __init__(self, config: TriggerRecallConfig | None = None) -> None:
        super().__init__(config or TriggerRecallConfig())

    def compute(self, records: Sequence[SampleRecord]) -> dict[str, Any]:
        judges = judge_names(records)
        if not judges:
            return {"recall": Recall("judge", None, None)}
        c = self.config
        boot = Bootstrap(c.resamples, c.seed, c.level)
        by_judge = {name: Recall.from_dict(recall_summary(records, name, boot)) for name in judges}
        result: dict[str, Any] = {"recall": by_judge[judges[0]], "recall_by_judge": by_judge}
        for key in ("precision", "f1"):
            values = {name: recall_summary(records, name, boot, MEASURES[key]) for name in judges}
            kept = {name: v for name, v in values.items() if v["n_scored"]}
            if kept:
                result[f"{key}_by_judge"] = kept
                if judges[0] in kept:
                    result[key] = kept[judges[0]]
        if len(judges) > 1:
            result["judge_agreement"] = [
                judge_agreement(records, a, b, c.kappa_bins) for a, b in combinations(judges, 2)
            ]
        return result
