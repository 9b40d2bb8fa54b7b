"""The ``jury`` metric: a run's judges (of different families, ideally) pooled per trigger.

Each member's per-trigger verdict counts 1 (matched), ``partial_credit`` (partly) or 0 (missed).
The jury credits a trigger with the members' mean (``rule: mean``) or, by majority, 1 when more
than half of the members credit it at all (``rule: majority``); the jury's recall of a sample is
the mean over its triggers. Only samples every member judged per trigger count. Each member's
agreement with the jury: Cohen's kappa on credited-or-not per trigger (CI resampling samples),
Spearman and mean absolute difference per sample.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

import numpy as np

from eicore import Judgment, Metric, SampleRecord
from eicore_metrics.recall import judge_names
from eicore_metrics.statistics import Bootstrap, agreement, kappa_ci, mean_ci


@dataclass
class JuryConfig:
    rule: str = "majority"
    """``majority`` or ``mean`` of the members' per-trigger credit."""
    members: list[str] = dataclasses.field(default_factory=list)
    """The judges on the jury (default: every judge of the run that gives per-trigger verdicts)."""
    partial_credit: float = 0.5
    """What a member's ``partly`` counts."""
    resamples: int = 1000
    seed: int = 0


def credits(judgment: Judgment | None, partial: float) -> np.ndarray | None:
    """A judgment's per-trigger credit, or None when it gives no per-trigger verdicts."""
    if judgment is None or judgment.status != "ok" or not judgment.triggers:
        return None
    value = {"matched": 1.0, "partly": partial, "missed": 0.0}
    return np.array([value[t.verdict] for t in judgment.triggers])


class Jury(Metric):
    """``jury`` in metrics.json: the jury's recall and each member's agreement with it."""

    config: JuryConfig

    def __init__(self, config: JuryConfig | None = None) -> None:
        super().__init__(config or JuryConfig())
        if self.config.rule not in ("majority", "mean"):
            raise ValueError(f"jury rule {self.config.rule!r}: choose majority or mean")

    def compute(self, records: Sequence[SampleRecord]) -> dict[str, Any]:
        c = self.config
        members = list(c.members) or [
            name
            for name in judge_names(records)
            if any(j.judge == name and j.triggers for r in records for j in r.judgments)
        ]
        if len(members) < 2:
            return {"jury": {"rule": c.rule, "members": members, "n": 0, "note": "needs 2 judges"}}
        votes: dict[str, dict[str, np.ndarray]] = {}
        for record in records:
            if record.status != "answered":
                continue
            found = {j.judge: j for j in record.judgments}
            given = {m: credits(found.get(m), c.partial_credit) for m in members}
            if all(v is not None and len(v) == len(record.sample.triggers) for v in given.values()):
                votes[record.sample.id] = {m: v for m, v in given.items() if v is not None}
        boot = Bootstrap(c.resamples, c.seed)
        jury = {i: self.verdict(np.array(list(v.values()))) for i, v in votes.items()}
        recall = [float(v.mean()) for v in jury.values()]
        result: dict[str, Any] = {
            "rule": c.rule,
            "members": members,
            "n": len(jury),
            "recall": fmean(recall) if recall else None,
            "ci": mean_ci(recall, boot),
            "agreement": {},
        }
        for m in members:
            pairs = [((votes[i][m] > 0).astype(int), (jury[i] >= 0.5).astype(int)) for i in jury]
            kappa, ci = kappa_ci(pairs, boot)
            mine = [float(votes[i][m].mean()) for i in jury]
            stats = agreement(mine, recall)
            result["agreement"][m] = {
                "recall": fmean(mine) if mine else None,
                "kappa": kappa,
                "kappa_ci": ci,
                "spearman": stats["spearman"],
                "mean_abs_diff": stats["mean_abs_diff"],
            }
        return {"jury": result}

    def verdict(self, votes: np.ndarray) -> np.ndarray:
        """The jury's credit per trigger from members × triggers credits."""
        if self.config.rule == "mean":
            mean: np.ndarray = votes.mean(axis=0)
            return mean
        majority: np.ndarray = ((votes > 0).sum(axis=0) * 2 > len(votes)).astype(float)
        return majority
