"""``verbatim`` judges one answer; ``answer_items`` aggregates a run's records."""

from __future__ import annotations

import asyncio

from eicore_plugin_example.judge import Verbatim, VerbatimConfig
from eicore_plugin_example.metric import AnswerItems, AnswerItemsConfig

from eicore import Response, Sample, SampleRecord

TRIGGERS = ("A broken vase", "a slammed door", "rain")


def sample(id: str = "s1", emotion: str | None = "angry") -> Sample:
    return Sample(id, "csv", f"{id}.png", "Why?", TRIGGERS, emotion)


def test_verbatim_counts_the_triggers_the_answer_contains() -> None:
    answer = "1. a broken vase on the floor\n2. thunder"
    judgment = asyncio.run(Verbatim(VerbatimConfig()).judge(sample(), answer))
    assert (judgment.recalled, judgment.total, judgment.matched) == (1, 3, (0,))
    assert judgment.score == 1 / 3
    assert judgment.raw == "{score: 1/3}"


def test_verbatim_can_respect_case() -> None:
    judge = Verbatim(VerbatimConfig(case_sensitive=True))
    assert asyncio.run(judge.judge(sample(), "a broken vase")).recalled == 0
    assert asyncio.run(judge.judge(sample(), "A broken vase")).recalled == 1


def test_answer_items_averages_listed_items_per_emotion_over_answered_samples() -> None:
    records = [
        SampleRecord(sample("a", "angry"), "answered", Response("1. x\n2. y\n3) z")),
        SampleRecord(sample("b", "angry"), "answered", Response("1. x")),
        SampleRecord(sample("c", "sad"), "answered", Response("no list at all")),
        SampleRecord(sample("d", "sad"), "failed", error="timeout"),
    ]
    result = AnswerItems(AnswerItemsConfig()).compute(records)["answer_items"]
    assert result == {"mean": 4 / 3, "n_answers": 3, "by_emotion": {"angry": 2.0, "sad": 0.0}}


def test_answer_items_of_no_answers_is_none() -> None:
    result = AnswerItems(AnswerItemsConfig()).compute([])["answer_items"]
    assert result == {"mean": None, "n_answers": 0, "by_emotion": {}}
