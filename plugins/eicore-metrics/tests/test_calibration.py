"""Fitting the semantic judge's threshold to a reference judge, and judge presets."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from eicore_metrics.calibration import (
    calibrate,
    calibration_report,
    fit,
    register_calibrated,
    save_preset,
)
from eicore_metrics.semantic import SemanticJudge, SemanticJudgeConfig
from eicore_metrics.statistics import Bootstrap
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score

from eicore import Response, Sample, SampleRecord, TriggerVerdict, build

TRIGGERS = [
    ("The man is shouting at someone.", "Rainy, gloomy weather.", "A broken phone on the floor."),
    ("A child laughs at a clown.", "Balloons fill the room.", "A birthday cake with candles."),
    ("Empty chairs at a table.", "She holds an old photograph.", "Tears on her cheeks."),
]
ANSWERS = [
    "He is yelling at another person. It is raining outside. His phone lies smashed.",
    "A kid giggles at a performer in makeup. There is a cake.",
    "Nobody sits at the table. She cries while looking at a picture.",
]
GRID = np.arange(0.30, 0.9001, 0.01)


def judged_by(threshold: float, emotions: tuple[str, ...] = ("sad",)) -> list[SampleRecord]:
    """Each answer against each trigger list, judged by the semantic judge at ``threshold``
    under the name ``ref``; the samples' emotions take turns from ``emotions``."""
    judge = SemanticJudge(SemanticJudgeConfig(threshold=threshold))
    records = []
    for i, (triggers, answer) in enumerate(itertools.product(TRIGGERS, ANSWERS)):
        emotion = emotions[i % len(emotions)]
        sample = Sample(f"s{i}", "basic", f"{i}.png", "q", triggers, emotion)
        judgment = dataclasses.replace(judge.judge_text(triggers, answer), judge="ref")
        records.append(SampleRecord(sample, "answered", Response(answer), (judgment,)))
    return records


def test_fit_picks_the_middle_of_the_best_run() -> None:
    cosines = [np.array([0.22, 0.6]), np.array([0.43])]
    reference = np.array([0.5, 1.0])  # any threshold in (0.22, 0.43] agrees perfectly
    grid = np.arange(0.1, 0.71, 0.05)
    threshold, mads = fit(cosines, reference, grid)
    assert mads.min() == 0 and np.count_nonzero(mads == 0) == 4
    assert threshold == pytest.approx(0.35)  # the best run is 0.25, 0.30, 0.35, 0.40


@pytest.mark.parametrize("truth", [0.5, 0.7])
def test_calibration_recovers_the_reference_threshold(truth: float) -> None:
    records = judged_by(truth)
    result = calibrate(records, "ref", "synthetic", GRID, Bootstrap(200))
    assert result.agreement["mean_abs_diff"] == 0.0 and result.mad_ci == [0.0, 0.0]
    refit = SemanticJudge(SemanticJudgeConfig(threshold=result.threshold))
    for record in records:
        assert record.response is not None
        again = refit.judge_text(record.sample.triggers, record.response.text)
        assert again.recalled == record.judgments[0].recalled
    assert result.n == 9 and result.mean_semantic == pytest.approx(result.mean_reference)


def test_calibration_needs_reference_scores() -> None:
    with pytest.raises(ValueError, match="scored by 'nobody'"):
        calibrate(judged_by(0.5), "nobody", "synthetic", GRID, Bootstrap(10))


def test_a_saved_preset_is_a_judge_with_its_threshold_and_provenance(tmp_path: Path) -> None:
    result = calibrate(judged_by(0.7), "ref", "runs/x", GRID, Bootstrap(50), limit=6)
    path = save_preset("fitted", result, tmp_path)
    assert json.loads(path.read_text())["threshold"] == result.threshold
    (tmp_path / "broken.json").write_text("{not json")
    registered: dict[str, type] = {}
    register_calibrated(lambda name, factory, config: registered.setdefault(name, config), tmp_path)
    assert list(registered) == ["fitted"]
    config = registered["fitted"]()
    judge = SemanticJudge(config)
    described = judge.describe()
    assert described["threshold"] == result.threshold
    assert described["threshold_source"] == "calibrated against judge 'ref' on 6 samples of runs/x"
    assert asyncio.run(judge.judge(judged_by(0.7)[0].sample, ANSWERS[0])).total == 3


def test_threshold_source_of_default_and_user_thresholds() -> None:
    default = build("judge", {"plugin": "semantic"})
    assert default.describe()["threshold_source"].startswith("default: 99th percentile")
    user = build("judge", {"plugin": "semantic", "threshold": 0.5})
    assert user.describe()["threshold_source"] == "set in the run's config"


def test_calibration_reports_per_trigger_kappa_and_per_emotion_agreement() -> None:
    records = judged_by(0.55, emotions=("sad", "happy"))
    for i in range(0, len(records), 3):  # the reference errs on one trigger of every third
        (judgment,) = records[i].judgments  # sample: agreement is not perfect
        flipped = list(judgment.triggers)
        flipped[0] = TriggerVerdict("missed" if flipped[0].verdict != "missed" else "matched")
        matched = tuple(k for k, t in enumerate(flipped) if t.verdict == "matched")
        judgment = dataclasses.replace(
            judgment, triggers=tuple(flipped), matched=matched, recalled=len(matched)
        )
        records[i] = dataclasses.replace(records[i], judgments=(judgment,))
    result = calibrate(records, "ref", "synthetic", np.arange(0.3, 0.9, 0.01), Bootstrap(300))
    t = result.trigger_agreement
    assert t["n_triggers"] == 27 and t["n_samples"] == 9
    semantic = SemanticJudge(SemanticJudgeConfig(threshold=result.threshold))
    mine, theirs = [], []
    for r in records:
        assert r.response is not None
        again = semantic.judge_text(r.sample.triggers, r.response.text)
        mine += [int(v.verdict == "matched") for v in again.triggers]
        theirs += [int(v.verdict != "missed") for v in r.judgments[0].triggers]
    assert t["kappa"] == pytest.approx(cohen_kappa_score(mine, theirs))
    assert t["kappa_ci"] is not None and t["kappa_ci"][0] <= t["kappa"] <= t["kappa_ci"][1]
    assert set(result.by_emotion) == {"happy", "sad"}
    happy = [k for k, r in enumerate(records) if r.sample.emotion == "happy"]
    ours = [
        again.score
        for again in (
            semantic.judge_text(records[k].sample.triggers, records[k].response.text) for k in happy
        )
    ]  # type: ignore[union-attr]
    ref = [records[k].judgments[0].score for k in happy]
    rho = spearmanr(ours, ref).statistic
    if np.isnan(rho):
        assert result.by_emotion["happy"]["spearman"] is None
    else:
        assert result.by_emotion["happy"]["spearman"] == pytest.approx(rho)
    assert result.by_emotion["happy"]["mean_abs_diff"] == pytest.approx(
        np.mean(np.abs(np.array(ours) - np.array(ref)))
    )
    text = calibration_report(result)
    assert "Cohen's kappa" in text and "happy" in text and "95% CI" in text
