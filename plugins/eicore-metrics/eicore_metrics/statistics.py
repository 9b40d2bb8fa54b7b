"""Bootstrap confidence intervals, paired bootstrap tests, and agreement between two judges.

Percentile bootstrap over samples, seeded (``numpy.random.default_rng(seed)``), so the same
scores always give the same interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from eicore import cohen_kappa


@dataclass(frozen=True)
class Bootstrap:
    resamples: int = 1000
    seed: int = 0
    level: float = 0.95

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def interval(self, estimates: np.ndarray) -> list[float]:
        tail = 100 * (1 - self.level) / 2
        lo, hi = np.percentile(estimates, [tail, 100 - tail])
        return [float(lo), float(hi)]


def resampled_means(
    values: Sequence[float], resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """``resamples`` means of samples drawn with replacement from ``values``."""
    data = np.asarray(values, dtype=float)
    picks = rng.integers(0, len(data), size=(resamples, len(data)))
    means: np.ndarray = data[picks].mean(axis=1)
    return means


def mean_ci(values: Sequence[float], boot: Bootstrap) -> list[float] | None:
    """The percentile bootstrap CI of the mean; None for no values."""
    if not len(values):
        return None
    return boot.interval(resampled_means(values, boot.resamples, boot.rng()))


def macro_ci(groups: Mapping[str, Sequence[float]], boot: Bootstrap) -> list[float] | None:
    """The CI of the mean of group means, resampling within each group (stratified)."""
    kept = [g for g in groups.values() if len(g)]
    if not kept:
        return None
    rng = boot.rng()
    means = np.mean([resampled_means(g, boot.resamples, rng) for g in kept], axis=0)
    return boot.interval(means)


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``a - b`` over paired samples, its bootstrap CI and two-sided p-value."""

    n: int
    mean_a: float
    mean_b: float
    difference: float
    ci: list[float]
    p_value: float


def paired_difference(a: Sequence[float], b: Sequence[float], boot: Bootstrap) -> PairedDifference:
    """Paired bootstrap of the mean difference; p from the null-shifted bootstrap distribution:
    how often a resampled difference lies as far from the observed one as the observed one lies
    from 0 (with the +1 correction, so p is never 0)."""
    if len(a) != len(b) or not len(a):
        raise ValueError(f"need equally many paired scores, got {len(a)} and {len(b)}")
    diffs = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    observed = float(diffs.mean())
    resampled = resampled_means(diffs, boot.resamples, boot.rng())
    extreme = np.sum(np.abs(resampled - observed) >= abs(observed) - 1e-12)
    return PairedDifference(
        n=len(diffs),
        mean_a=float(np.mean(a)),
        mean_b=float(np.mean(b)),
        difference=observed,
        ci=boot.interval(resampled),
        p_value=float(min(1.0, (extreme + 1) / (boot.resamples + 1))),
    )


def ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank."""
    order = values.argsort(kind="mergesort")
    ranked = np.empty(len(values))
    ranked[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        ranked[tied] = ranked[tied].mean()
    return ranked


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson's r; None when either side is constant or there are fewer than 2 pairs."""
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def bins_of(scores: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins of [0, 1]: 0 … bins-1 (a score of 1 falls in the last)."""
    binned: np.ndarray = np.minimum((scores * bins).astype(int), bins - 1)
    return binned


def agreement(a: ArrayLike, b: ArrayLike, bins: int = 4) -> dict[str, float | None]:
    """How two judges' per-sample scores agree: Pearson, Spearman, Cohen's kappa on ``bins``
    equal-width bins, and the mean absolute difference."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"need equally many paired scores, got {len(x)} and {len(y)}")
    if not len(x):
        return {"n": 0, "pearson": None, "spearman": None, "kappa": None, "mean_abs_diff": None}
    return {
        "n": len(x),
        "pearson": pearson(x, y),
        "spearman": pearson(ranks(x), ranks(y)),
        "kappa": cohen_kappa(bins_of(x, bins).tolist(), bins_of(y, bins).tolist()),
        "kappa_bins": bins,
        "mean_abs_diff": float(np.mean(np.abs(x - y))),
    }


def kappa_ci(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]], boot: Bootstrap
) -> tuple[float | None, list[float] | None]:
    """Cohen's kappa of label vectors pooled over groups (samples), and its bootstrap CI with
    whole groups resampled: a sample's triggers are not independent of each other."""
    if not pairs:
        return None, None
    x = np.concatenate([a for a, _ in pairs])
    y = np.concatenate([b for _, b in pairs])
    point = cohen_kappa(x.tolist(), y.tolist())
    rng = boot.rng()
    estimates = []
    for _ in range(boot.resamples):
        picks = rng.integers(0, len(pairs), size=len(pairs))
        xs = np.concatenate([pairs[i][0] for i in picks])
        ys = np.concatenate([pairs[i][1] for i in picks])
        value = cohen_kappa(xs.tolist(), ys.tolist())
        if value is not None:
            estimates.append(value)
    return point, (boot.interval(np.array(estimates)) if estimates else None)
