"""Precision and F1 beside recall, the semantic judge's per-trigger structure, the jury, and
Cohen's kappa with its bootstrap, with the statistics checked against scikit-learn."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from eicore_metrics.jury import Jury, JuryConfig
from eicore_metrics.recall import TriggerRecall
from eicore_metrics.semantic import SemanticJudge, SemanticJudgeConfig
from eicore_metrics.statistics import Bootstrap, kappa_ci
from sklearn.metrics import cohen_kappa_score

from eicore import AnswerItem, Judgment, Response, Sample, SampleRecord, TriggerVerdict, cohen_kappa


def verdicts(*labels: str) -> tuple[TriggerVerdict, ...]:
    return tuple(TriggerVerdict(v) for v in labels)  # type: ignore[arg-type]


def items(*flags: bool) -> tuple[AnswerItem, ...]:
    return tuple(AnswerItem(f"item {i}", f) for i, f in enumerate(flags))


def judged(name: str, labels: tuple[str, ...], supported: tuple[bool, ...]) -> Judgment:
    matched = tuple(i for i, v in enumerate(labels) if v == "matched")
    partly = sum(v == "partly" for v in labels)
    return Judgment(
        name, len(matched), len(labels), matched=matched, triggers=verdicts(*labels),
        items=items(*supported), credit=len(matched) + 0.5 * partly if partly else None,
    )  # fmt: skip


def record(n: int, emotion: str, *judgments: Judgment) -> SampleRecord:
    total = judgments[0].total
    sample = Sample(
        f"s{n}", "basic", f"{n}.png", "q", tuple(f"t{i}" for i in range(total)), emotion
    )
    return SampleRecord(sample, "answered", Response("answer"), judgments)


RECORDS = [
    record(1, "happy", judged("a", ("matched", "missed"), (True, False)),
           judged("b", ("matched", "matched"), (True, True, True))),
    record(2, "happy", judged("a", ("partly", "missed", "matched"), (True,)),
           judged("b", ("missed", "missed", "matched"), (False, True))),
    record(3, "sad", judged("a", ("missed", "missed"), (False, False)),
           judged("b", ("matched", "missed"), (True, False))),
]  # fmt: skip


def f1(r: float, p: float) -> float:
    return 0.0 if r + p == 0 else 2 * r * p / (r + p)


def test_precision_and_f1_beside_recall_per_judge() -> None:
    result = TriggerRecall(None).compute(RECORDS)
    recall_a = [0.5, 1.5 / 3, 0.0]
    precision_a = [0.5, 1.0, 0.0]
    assert result["recall_by_judge"]["a"].overall == pytest.approx(np.mean(recall_a))
    assert result["precision_by_judge"]["a"]["overall"] == pytest.approx(np.mean(precision_a))
    expected_f1 = np.mean([f1(r, p) for r, p in zip(recall_a, precision_a, strict=True)])
    assert result["f1_by_judge"]["a"]["overall"] == pytest.approx(expected_f1)
    assert result["precision"] == result["precision_by_judge"]["a"]  # the first judge
    assert result["precision_by_judge"]["b"]["overall"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert result["precision_by_judge"]["a"]["by_emotion"] == pytest.approx(
        {"happy": 0.75, "sad": 0.0}
    )
    assert result["precision_by_judge"]["a"]["ci"] is not None


def test_judges_without_items_get_no_precision() -> None:
    plain = [record(1, "happy", Judgment("k", 1, 2))]
    result = TriggerRecall(None).compute(plain)
    assert "precision" not in result and "precision_by_judge" not in result


def test_semantic_judge_reports_per_trigger_verdicts_and_supported_items() -> None:
    judge = SemanticJudge(SemanticJudgeConfig())
    triggers = ("The man is shouting at someone.", "A broken phone on the floor.", "A rainbow.")
    answer = "He is yelling at another person. His phone lies smashed on the ground. I like tea."
    judgment = judge.judge_text(triggers, answer)
    assert [t.verdict for t in judgment.triggers] == ["matched", "matched", "missed"]
    assert judgment.triggers[0].span and judgment.triggers[2].span == ""
    assert [i.supported for i in judgment.items] == [True, True, False]
    assert judgment.precision == pytest.approx(2 / 3)
    partial = SemanticJudge(SemanticJudgeConfig(threshold=0.99, partial_threshold=0.3))
    graded = partial.judge_text(triggers, answer)
    assert {t.verdict for t in graded.triggers[:2]} == {"partly"}
    assert graded.score == pytest.approx(
        0.5 * sum(t.verdict == "partly" for t in graded.triggers) / 3
    )


def test_jury_majority_and_mean_with_member_agreement() -> None:
    third = [
        judged("c", ("matched", "missed"), (True, False)),
        judged("c", ("missed", "missed", "matched"), (True,)),
        judged("c", ("matched", "missed"), (True, False)),
    ]
    records = [
        dataclasses.replace(r, judgments=(*r.judgments, c))
        for r, c in zip(RECORDS, third, strict=True)
    ]
    majority = Jury(JuryConfig(resamples=100)).compute(records)["jury"]
    # per trigger, credited by at least 2 of 3: s1 [1, 0], s2 [0, 0, 1], s3 [1, 0]
    assert majority["members"] == ["a", "b", "c"] and majority["n"] == 3
    assert majority["recall"] == pytest.approx(np.mean([0.5, 1 / 3, 0.5]))
    mean = Jury(JuryConfig(rule="mean", resamples=100)).compute(records)["jury"]
    s1 = np.mean([1, 1 / 3])
    s2 = np.mean([1 / 6, 0, 1])
    s3 = np.mean([2 / 3, 0])  # noqa: E702
    assert mean["recall"] == pytest.approx(np.mean([s1, s2, s3]))
    jury_flags = [1, 0, 0, 0, 1, 1, 0]
    member_c = [1, 0, 0, 0, 1, 1, 0]
    assert majority["agreement"]["c"]["kappa"] == pytest.approx(
        cohen_kappa_score(member_c, jury_flags)
    )
    member_b = [1, 1, 0, 0, 1, 1, 0]
    assert majority["agreement"]["b"]["kappa"] == pytest.approx(
        cohen_kappa_score(member_b, jury_flags)
    )
    with pytest.raises(ValueError, match="rule"):
        Jury(JuryConfig(rule="vibes"))


def test_kappa_and_its_sample_bootstrap_against_sklearn() -> None:
    rng = np.random.default_rng(3)
    pairs = []
    for _ in range(30):
        n = int(rng.integers(2, 6))
        a = rng.integers(0, 2, n)
        b = np.where(rng.random(n) < 0.8, a, 1 - a)
        pairs.append((a, b))
    x = np.concatenate([a for a, _ in pairs])
    y = np.concatenate([b for _, b in pairs])
    kappa, ci = kappa_ci(pairs, Bootstrap(300, 1))
    assert kappa == pytest.approx(cohen_kappa_score(x, y))
    assert cohen_kappa(x, y) == pytest.approx(cohen_kappa_score(x, y))
    assert ci is not None and ci[0] < kappa < ci[1]
