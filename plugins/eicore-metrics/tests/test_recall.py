"""trigger_recall aggregation against a hand computation."""

from __future__ import annotations

import pytest
from eicore_metrics.recall import TriggerRecall

from eicore import Judgment, Response, Sample, SampleRecord


def record(
    n: int, emotion: str, judgment: Judgment | None, status: str = "answered"
) -> SampleRecord:
    triggers = tuple(f"t{i}" for i in range(judgment.total if judgment else 2))
    sample = Sample(f"s{n}", "basic", f"{n}.png", "q?", triggers, emotion)
    judgments = (judgment,) if judgment else ()
    return SampleRecord(sample, status, Response("answer"), judgments)  # type: ignore[arg-type]


def ok(recalled: int, total: int) -> Judgment:
    return Judgment("semantic", recalled, total)


RECORDS = [
    record(1, "happy", ok(1, 2)),  # 0.5
    record(2, "happy", ok(1, 4)),  # 0.25
    record(3, "angry", ok(3, 3)),  # 1.0
    record(4, "sad", ok(0, 5)),  # 0.0
    record(5, "sad", Judgment("semantic", None, 4, "unparsed", "no score")),
    record(6, "excited", Judgment("semantic", None, 3, "error", "TimeoutError")),
    record(7, "excited", None, status="failed"),
]


def test_overall_is_sample_weighted_and_macro_averages_emotions() -> None:
    recall = TriggerRecall(None).compute(RECORDS)["recall"].to_dict()
    assert recall["overall"] == pytest.approx((0.5 + 0.25 + 1.0 + 0.0) / 4)
    assert recall["macro"] == pytest.approx((0.375 + 1.0 + 0.0) / 3)
    assert recall["by_emotion"] == pytest.approx({"happy": 0.375, "angry": 1.0, "sad": 0.0})
    assert list(recall["by_emotion"]) == ["happy", "angry", "sad"]


def test_unparsed_and_failed_are_excluded_and_counted() -> None:
    recall = TriggerRecall(None).compute(RECORDS)["recall"].to_dict()
    assert recall["n_scored"] == 4
    assert recall["n_unjudged"] == 2  # the unparsed and the errored judgment; failed not answered
    assert recall["n_by_emotion"] == {"happy": 2, "angry": 1, "sad": 1}
    assert recall["judge"] == "semantic"


def test_no_judgments_gives_empty_recall() -> None:
    recall = TriggerRecall(None).compute([RECORDS[-1]])["recall"].to_dict()
    assert (recall["overall"], recall["macro"], recall["n_scored"]) == (None, None, 0)
