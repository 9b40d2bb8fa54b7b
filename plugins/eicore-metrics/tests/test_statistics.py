"""Bootstrap CIs, the paired bootstrap test and judge agreement: against scipy/scikit-learn on
fixed vectors, and at their nominal rates on simulated data."""

from __future__ import annotations

import numpy as np
import pytest
from eicore_metrics.recall import TriggerRecall, TriggerRecallConfig
from eicore_metrics.statistics import (
    Bootstrap,
    agreement,
    bins_of,
    macro_ci,
    mean_ci,
    paired_difference,
)

from eicore import Judgment, Response, Sample, SampleRecord

A = [0.0, 0.2, 0.25, 0.5, 0.5, 0.6, 0.75, 1.0, 1.0, 0.4, 0.2, 0.0, 0.8, 0.5]
B = [0.2, 0.2, 0.5, 0.25, 0.75, 0.6, 0.5, 1.0, 0.8, 0.4, 0.0, 0.2, 1.0, 0.5]


def test_pearson_and_spearman_equal_scipy() -> None:
    from scipy import stats

    got = agreement(A, B)
    assert got["pearson"] == pytest.approx(stats.pearsonr(A, B).statistic)
    assert got["spearman"] == pytest.approx(stats.spearmanr(A, B).statistic)  # ties averaged
    assert got["mean_abs_diff"] == pytest.approx(np.mean(np.abs(np.subtract(A, B))))
    assert got["n"] == len(A)


@pytest.mark.parametrize("bins", [2, 4, 5])
def test_kappa_on_binned_scores_equals_scikit_learn(bins: int) -> None:
    from sklearn import metrics

    x, y = bins_of(np.array(A), bins), bins_of(np.array(B), bins)
    assert agreement(A, B, bins)["kappa"] == pytest.approx(metrics.cohen_kappa_score(x, y))


def test_bins_are_equal_width_with_one_in_the_last() -> None:
    assert bins_of(np.array([0.0, 0.24, 0.25, 0.5, 0.99, 1.0]), 4).tolist() == [0, 0, 1, 2, 3, 3]


def test_agreement_of_constant_or_empty_scores_is_undefined_not_an_error() -> None:
    assert agreement([0.5, 0.5], [0.1, 0.9])["pearson"] is None
    assert agreement([1.0, 1.0], [1.0, 1.0])["kappa"] is None
    assert agreement([], [])["n"] == 0


def test_ci_is_seeded_and_brackets_the_mean() -> None:
    boot = Bootstrap(resamples=2000, seed=3)
    ci = mean_ci(A, boot)
    assert ci == mean_ci(A, boot) and ci != mean_ci(A, Bootstrap(2000, seed=4))
    assert ci is not None and ci[0] < np.mean(A) < ci[1]
    assert mean_ci([], boot) is None and mean_ci([0.3], boot) == [0.3, 0.3]


def test_ci_covers_the_true_mean_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(0)
    true_mean = 2 / 7  # Beta(2, 5): skewed, bounded in [0, 1] like recall
    runs, covered = 400, 0
    for seed in range(runs):
        data = rng.beta(2, 5, size=60)
        lo, hi = mean_ci(data, Bootstrap(resamples=500, seed=seed)) or (0, 0)
        covered += lo <= true_mean <= hi
    assert 0.90 <= covered / runs <= 0.98


def test_macro_ci_covers_the_mean_of_group_means() -> None:
    rng = np.random.default_rng(1)
    truth = np.mean([0.2, 0.5, 0.8])
    covered = 0
    for seed in range(200):
        groups = {f"g{i}": rng.binomial(5, p, size=n) / 5 for i, (p, n) in
                  enumerate([(0.2, 20), (0.5, 60), (0.8, 40)])}  # fmt: skip
        lo, hi = macro_ci(groups, Bootstrap(resamples=400, seed=seed)) or (0, 0)
        covered += lo <= truth <= hi
    assert 0.88 <= covered / 200 <= 0.99


def test_paired_difference_finds_a_real_shift_and_its_size() -> None:
    rng = np.random.default_rng(2)
    b = rng.uniform(0, 1, size=200)
    a = np.clip(b + 0.1 + rng.normal(0, 0.05, size=200), 0, 1)
    result = paired_difference(a, b, Bootstrap(resamples=4000))
    assert result.difference == pytest.approx(np.mean(a - b))
    assert result.ci[0] < result.difference < result.ci[1] and result.ci[0] > 0
    assert result.p_value < 0.001 and result.n == 200


def test_paired_p_value_is_uniform_enough_under_the_null() -> None:
    rng = np.random.default_rng(3)
    rejections = 0
    for seed in range(300):
        b = rng.uniform(0, 1, size=50)
        a = b + rng.normal(0, 0.1, size=50)  # mean difference 0 by construction
        rejections += paired_difference(a, b, Bootstrap(resamples=500, seed=seed)).p_value < 0.05
    assert 0.02 <= rejections / 300 <= 0.10


def test_identical_runs_differ_by_nothing() -> None:
    result = paired_difference(A, A, Bootstrap(resamples=200))
    assert (result.difference, result.ci, result.p_value) == (0.0, [0.0, 0.0], 1.0)
    with pytest.raises(ValueError):
        paired_difference(A, B[:3], Bootstrap())


def record(i: int, emotion: str, scores: dict[str, int]) -> SampleRecord:
    sample = Sample(f"s{i}", "basic", f"{i}.png", "q", ("a", "b", "c", "d"), emotion)
    judgments = tuple(Judgment(name, k, 4) for name, k in scores.items())
    return SampleRecord(sample, "answered", Response("x"), judgments)


def test_recall_carries_cis_per_cell_and_agreement_per_judge_pair() -> None:
    rng = np.random.default_rng(4)
    x_recalled = rng.integers(0, 5, size=40)
    y_recalled = np.minimum(4, x_recalled + rng.integers(0, 2, size=40))
    records = [
        record(i, ("happy", "sad")[i % 2], {"x": int(k), "y": int(m)})
        for i, (k, m) in enumerate(zip(x_recalled, y_recalled, strict=True))
    ]
    config = TriggerRecallConfig(resamples=300, seed=7, kappa_bins=5)
    result = TriggerRecall(config).compute(records)
    recall = result["recall"].to_dict()
    assert recall["judge"] == "x"
    assert recall["bootstrap"] == {"resamples": 300, "seed": 7, "level": 0.95}
    x = [r.judgments[0].score for r in records]
    assert recall["ci"] == mean_ci(x, Bootstrap(300, 7))
    happy = [r.judgments[0].score for r in records if r.sample.emotion == "happy"]
    assert recall["ci_by_emotion"]["happy"] == mean_ci(happy, Bootstrap(300, 7))
    assert recall["ci_macro"][0] <= recall["macro"] <= recall["ci_macro"][1]
    (pair,) = result["judge_agreement"]
    y = [r.judgments[1].score for r in records]
    assert pair == {"judges": ["x", "y"], **agreement(x, y, 5)}
