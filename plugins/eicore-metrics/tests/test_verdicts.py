"""The verdict parser, case by case."""

from __future__ import annotations

import pytest
from eicore_metrics.verdicts import echo_contexts, parse_verdict

PAPER_STYLE = "Answer in the form {score: correct/total}, e.g. {score: 2/5}, then explain."
ECHO = echo_contexts(PAPER_STYLE)

THREE_OF_FIVE = [
    "{score: 3/5}", "{score:3/5}", "{Score: 3 / 5}", "{SCORE : 3/5}", "[score: 3/5]",
    "(score: 3/5)", "score: 3/5", "Score = 3/5", "**Score:** 3/5", '{"score": "3/5"}',
    "Score: 3 out of 5", "{score: {3/5}}",
]  # fmt: skip
"""Ways judges write the verdict "3 of 5"."""

# reply, triggers in the sample, expected (recalled, stated_total, form) or None
CASES: list[tuple[str, int, tuple[int, int | None, str] | None]] = [
    *((reply, 5, (3, 5, "score")) for reply in THREE_OF_FIVE),
    ("The answer names two triggers.\n\n{score: 2/4}\nExplanation: ...", 4, (2, 4, "score")),
    ("{score: 0/0}", 3, None),  # a score of nothing is no verdict: asked again
    ("{score: 0/0} on reflection {score: 1/3}", 3, (1, 3, "score")),
    ("{score: 7/5}", 5, (7, 5, "score")),  # clipping is the judge's business, not the parser's
    ("{score: 3/6}", 5, (3, 6, "score")),  # a wrong total is reported as stated
    ("The answer is good.", 5, None),
    ("", 5, None),
    ("score: three of five", 5, None),
    ("{score: correct/total}", 5, None),  # the instruction's placeholder, no digits
    ("3/5", 5, None),  # a bare fraction is not a verdict
    ("First {score: 1/5}. On reflection, {score: 2/5}.", 5, (2, 5, "score")),  # two: the last
    # the instruction's example echoed, then the real verdict
    (
        "Answer in the form {score: correct/total}, e.g. {score: 2/5}, then explain.\n{score: 4/5}",
        5,
        (4, 5, "score"),
    ),
    # only the echoed example: no verdict
    ("Sure. Answer in the form {score: correct/total}, e.g. {score: 2/5}, then explain.", 5, None),
    # the same numbers as the example, but not an echo: a verdict
    ("Two of five are named.\n{score: 2/5}", 5, (2, 5, "score")),
    # an echoed example after the real verdict does not win: by its words, or by its numbers
    ("{score: 3/4}\nAs asked: e.g. {score: 2/5}, then explain.", 4, (3, 4, "score")),
    ("{score: 3/4}\nFormat reminder: {score: 2/5}", 4, (3, 4, "score")),
    ('Two triggers.\n{score: 2/5}\n{"matched": [1, 4]}', 5, (2, None, "json")),
    ('{"matched": [1, 3, 5]} and {score: 1/5}', 5, (3, None, "json")),  # structured preferred
    ('{"Matched": []}', 4, (0, None, "json")),
    ('{"matched": [2, 2, 9]}', 4, (1, None, "json")),  # repeats and out-of-range dropped
    ("{'matched': [1]}", 3, (1, None, "json")),  # single quotes
    ('{"matched": ["one"]} {score: 1/3}', 3, (1, 3, "score")),  # malformed JSON: falls back
    ('{"matched": [1, 2}', 3, None),
]


@pytest.mark.parametrize(("reply", "total", "expected"), CASES)
def test_parse_verdict(
    reply: str, total: int, expected: tuple[int, int | None, str] | None
) -> None:
    verdict = parse_verdict(reply, total, ECHO)
    got = None if verdict is None else (verdict.recalled, verdict.stated_total, verdict.form)
    assert got == expected


def test_an_echo_with_the_instructions_following_words_loses_even_on_the_same_total() -> None:
    instruction = "Reply as {score: correct/total}, e.g. {score: 2/5} for 2 correct and 5 in total."
    reply = "{score: 4/5}. I used the form {score: 2/5} for 2 correct and 5 in total."
    verdict = parse_verdict(reply, 5, echo_contexts(instruction))
    assert verdict is not None and (verdict.recalled, verdict.stated_total) == (4, 5)


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 25


def test_json_form_gives_zero_based_indices_and_notes_dropped_items() -> None:
    verdict = parse_verdict('{"matched": [2, 2, 9, 1]}', 4)
    assert verdict is not None
    assert verdict.matched == (0, 1)
    assert verdict.notes and "outside 1..4" in verdict.notes[0]


def test_two_scores_are_noted() -> None:
    verdict = parse_verdict("{score: 1/5} then {score: 2/5}", 5)
    assert verdict is not None and verdict.recalled == 2
    assert "2 scores" in verdict.notes[0]


def test_echo_contexts_of_an_instruction_without_examples_are_empty() -> None:
    assert echo_contexts("Reply as {score: correct/total}.") == ()
