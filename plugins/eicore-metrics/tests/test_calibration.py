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
    fit,
    register_calibrated,
    save_preset,
)
from eicore_metrics.semantic import SemanticJudge, SemanticJudgeConfig
from eicore_metrics.statistics import Bootstrap

from eicore import Response, Sample, SampleRecord, build

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


def judged_by(threshold: float) -> list[SampleRecord]:
    """Each answer against each trigger list, judged by the semantic judge at ``threshold``
    under the name ``ref``."""
    judge = SemanticJudge(SemanticJudgeConfig(threshold=threshold))
    records = []
    for i, (triggers, answer) in enumerate(itertools.product(TRIGGERS, ANSWERS)):
        sample = Sample(f"s{i}", "basic", f"{i}.png", "q", triggers, "sad")
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
