"""Per-trigger verdicts: the parser's forms and fallbacks, and recall, precision and F1 computed
from them by the ``llm`` judge (with ``partly`` at its configured credit)."""

from __future__ import annotations

import asyncio
import json

import pytest
from eicore_metrics.llm import LLMJudge, LLMJudgeConfig
from eicore_metrics.verdicts import parse_verdict

from eicore import Judgment, Model, Sample
from eicore.testing.roles import traced_roles
from eicore.testing.scripted import SequencedModel

SAMPLE = Sample(
    "s1", "basic", "x/Angry/1.png", "Why is the man angry?",
    ("He is shouting.", "A broken phone.", "Rain."), "angry",
)  # fmt: skip
ANSWER = "He yells at his friend. His phone is cracked. He lost his keys."


def labels(reply: str, total: int = 3) -> list[str] | None:
    verdict = parse_verdict(reply, total)
    return None if verdict is None else [t.verdict for t in verdict.triggers]


def test_json_verdicts_with_spans_and_items() -> None:
    reply = json.dumps(
        {
            "triggers": [
                {"n": 1, "verdict": "matched", "span": "He yells"},
                {"n": 2, "verdict": "partly", "span": "phone is cracked"},
                {"n": 3, "verdict": "missed", "span": ""},
            ],
            "items": [{"n": 1, "supported": True}, {"n": 2, "supported": True},
                      {"n": 3, "supported": False}],
        }
    )  # fmt: skip
    verdict = parse_verdict("Here you go:\n```json\n" + reply + "\n```", 3)
    assert verdict is not None and verdict.form == "triggers"
    assert [t.verdict for t in verdict.triggers] == ["matched", "partly", "missed"]
    assert verdict.triggers[0].span == "He yells"
    assert verdict.matched == (0,) and verdict.recalled == 1
    assert verdict.supported == (True, True, False)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # single quotes, trailing commas, Python literals
        ("{'triggers': [{'n': 1, 'verdict': 'matched'}, {'n': 3, 'verdict': 'Partial'},],}",
         ["matched", "missed", "partly"]),
        # bare labels in order; synonyms
        ('{"triggers": ["yes", "no", "partially"]}', ["matched", "missed", "partly"]),
        # a mapping of numbers to labels
        ('{"triggers": {"1": "missed", "2": "matched", "3": "matched"}}',
         ["missed", "matched", "matched"]),
        # booleans
        ('{"triggers": [{"n": 2, "matched": true}]}', ["missed", "matched", "missed"]),
        # no JSON at all: one line per trigger
        ("1. He is shouting: matched (\"yells\")\n2. A broken phone - partly\n3. Rain: not matched",
         ["matched", "partly", "missed"]),
        ("Trigger 2 — missed\nTrigger 1 — matched", ["matched", "missed", "missed"]),
    ],
)  # fmt: skip
def test_tolerant_forms(reply: str, expected: list[str]) -> None:
    assert labels(reply) == expected


def test_out_of_range_and_repeated_entries_are_dropped_with_a_note() -> None:
    reply = '{"triggers": [{"n": 1, "verdict": "matched"}, {"n": 1, "verdict": "missed"},' \
        ' {"n": 9, "verdict": "matched"}, {"n": 2, "verdict": "banana"}]}'  # fmt: skip
    verdict = parse_verdict(reply, 3)
    assert (
        verdict is not None
        and [t.verdict for t in verdict.triggers] == ["matched"] + ["missed"] * 2
    )
    assert any("unreadable" in n for n in verdict.notes)
    assert any("no verdict for triggers [2, 3]" in n for n in verdict.notes)


def test_score_form_still_read_and_preferred_over_listed_lines() -> None:
    # a paper-style reply that lists triggers with words like "matched" is read by its score
    reply = "1. He is shouting: matched\n2. A broken phone: missed\n{score: 2/3}"
    verdict = parse_verdict(reply, 3)
    assert verdict is not None and (verdict.form, verdict.recalled) == ("score", 2)
    assert parse_verdict('{"matched": [1, 3]}', 3).matched == (0, 2)  # type: ignore[union-attr]
    assert labels("The answer is fine.") is None
    assert labels('{"triggers": []}') is None


def judged(judge: LLMJudge, model: Model) -> Judgment:
    """The judge's verdict on ANSWER with ``model`` as its role, as a run hands it over."""
    role = traced_roles({"judge:llm": model})["judge:llm"]
    return asyncio.run(judge.judge(SAMPLE, ANSWER, role))


PER_TRIGGER = json.dumps(
    {
        "triggers": [{"n": 1, "verdict": "matched", "span": "He yells"},
                     {"n": 2, "verdict": "partly", "span": "phone is cracked"},
                     {"n": 3, "verdict": "missed"}],
        "items": [{"n": 1, "supported": True}, {"n": 2, "supported": True},
                  {"n": 3, "supported": False}],
    }
)  # fmt: skip


@pytest.mark.parametrize("credit", [0.5, 0.0, 1.0])
def test_llm_judge_computes_recall_precision_and_f1_in_code(credit: float) -> None:
    model = SequencedModel([PER_TRIGGER])
    judge = LLMJudge(LLMJudgeConfig(backoff_s=0.0, partial_credit=credit))
    judgment = judged(judge, model)
    (prompt,) = model.prompts
    # the judge sees numbered triggers and the answer's numbered items
    assert "1. He is shouting.\n2. A broken phone.\n3. Rain." in prompt
    assert "1. He yells at his friend\n2. His phone is cracked\n3. He lost his keys" in prompt
    assert judgment.recalled == 1 and judgment.matched == (0,)
    assert [t.verdict for t in judgment.triggers] == ["matched", "partly", "missed"]
    assert judgment.score == pytest.approx((1 + credit) / 3)
    assert [i.text for i in judgment.items] == [
        "He yells at his friend", "His phone is cracked", "He lost his keys",
    ]  # fmt: skip
    assert judgment.precision == pytest.approx(2 / 3)
    r, p = (1 + credit) / 3, 2 / 3
    assert judgment.f1 == pytest.approx(2 * r * p / (r + p))
    assert judge.describe()["partial_credit"] == credit


def test_items_left_out_when_the_judge_flags_only_some() -> None:
    reply = '{"triggers": ["matched", "missed", "missed"], "items": [{"n": 1, "supported": true}]}'
    judgment = judged(LLMJudge(LLMJudgeConfig(backoff_s=0.0)), SequencedModel([reply]))
    assert judgment.score == pytest.approx(1 / 3) and judgment.items == ()
    assert judgment.precision is None and judgment.f1 is None


def test_score_template_keeps_the_paper_form() -> None:
    model = SequencedModel(["Two of them. {score: 2/3}"])
    judgment = judged(LLMJudge(LLMJudgeConfig(backoff_s=0.0, form="score")), model)
    assert "{score: correct/total}" in model.prompts[0] and '"triggers"' not in model.prompts[0]
    assert judgment.score == pytest.approx(2 / 3) and judgment.triggers == ()
    assert judgment.precision is None
