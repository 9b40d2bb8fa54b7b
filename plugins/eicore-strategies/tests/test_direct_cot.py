"""``direct`` and ``cot``: one answerer call each, and exactly what that call carries."""

from __future__ import annotations

import pytest
from eicore_strategies import CoT, CoTConfig, Direct, DirectConfig
from eicore_strategies.cot import final_answer
from eicore_strategies.personas import PERSONAS

from eicore import registered

LOOK = "Look at the image carefully, then answer the question."


def test_the_four_strategies_are_registered_through_the_entry_point() -> None:
    strategies = registered("strategy")
    assert {"direct", "cot", "caption", "cfsa"} <= set(strategies)
    assert {strategies[n].plugin for n in ("direct", "cot", "caption", "cfsa")} == {"strategies"}


# -- direct ------------------------------------------------------------------------------------


def test_direct_is_one_answerer_call_with_image_persona_and_question(cast, sample, image) -> None:
    cast.role("answerer", default="1. a spilled drink\n2. a rude waiter")
    answer = cast.answer(Direct(DirectConfig()), sample, image)
    assert answer == "1. a spilled drink\n2. a rude waiter"
    (seen,) = cast.log
    assert (seen.role, seen.round) == ("answerer", 0)
    expected = f"{PERSONAS['emotion_expert']}\n{LOOK}\n{sample.question}"
    assert seen.prompt.fingerprint() == [
        {"role": "user", "parts": [{"image_sha256": image.sha256}, {"text": expected}]}
    ]


def test_the_persona_presets_are_the_papers_ablation() -> None:
    assert set(PERSONAS) == {"none", "assistant", "unrelated_expert", "emotion_expert"}
    assert PERSONAS["none"] == ""
    assert "assistant" in PERSONAS["assistant"].lower()
    assert "emotion" in PERSONAS["emotion_expert"].lower()
    assert "emotion" not in PERSONAS["unrelated_expert"].lower()
    assert "expert" in PERSONAS["unrelated_expert"].lower()
    assert DirectConfig().persona == CoTConfig().persona == "emotion_expert"


@pytest.mark.parametrize("preset", ["none", "assistant", "unrelated_expert", "emotion_expert"])
def test_each_persona_preset_opens_the_prompt(cast, sample, image, preset: str) -> None:
    cast.role("answerer")
    cast.answer(Direct(DirectConfig(persona=preset)), sample, image)
    lines = cast.log[0].text.splitlines()
    if PERSONAS[preset]:
        assert lines == [PERSONAS[preset], LOOK, sample.question]
    else:  # no persona: no empty first line either
        assert lines == [LOOK, sample.question]


def test_a_persona_of_your_own_is_used_verbatim(cast, sample, image) -> None:
    cast.role("answerer")
    cast.answer(Direct(DirectConfig(persona="You are a poet.")), sample, image)
    assert cast.log[0].text.splitlines()[0] == "You are a poet."
    for sentence in PERSONAS.values():
        if sentence:
            assert sentence not in cast.log[0].text


def test_the_direct_template_can_be_replaced(cast, sample, image) -> None:
    cast.role("answerer")
    config = DirectConfig(persona="assistant", template="Q: {question}\nSpeaking as: {persona}")
    cast.answer(Direct(config), sample, image)
    assert cast.log[0].text == f"Q: {sample.question}\nSpeaking as: {PERSONAS['assistant']}"


def test_direct_withholds_the_image_from_a_text_only_answerer(cast, sample, image) -> None:
    cast.role("answerer", vision=False)
    cast.answer(Direct(DirectConfig()), sample, image)
    (seen,) = cast.log
    assert seen.images == [] and seen.text.endswith(sample.question)
    assert Direct(DirectConfig()).needs_image(cast.roles) is False


def test_direct_needs_the_image_only_for_a_seeing_answerer(cast) -> None:
    cast.role("answerer", vision=True)
    assert Direct(DirectConfig()).needs_image(cast.roles) is True


# -- cot ---------------------------------------------------------------------------------------


def test_cot_is_one_call_carrying_the_cue_and_the_marker(cast, sample, image) -> None:
    cast.role("answerer", default="He frowns.\nFinal answer:\n1. a spilled drink")
    answer = cast.answer(CoT(CoTConfig()), sample, image)
    (seen,) = cast.log
    assert (seen.role, seen.round, seen.images) == ("answerer", 0, [image.sha256])
    lines = seen.text.splitlines()
    assert lines[:3] == [PERSONAS["emotion_expert"], LOOK, sample.question]
    assert lines[3] == "Let's think step by step."
    assert '"Final answer:"' in lines[4]
    assert answer == "1. a spilled drink"


def test_cot_answer_is_the_text_after_the_last_marker_in_any_case(cast, sample, image) -> None:
    reply = (
        "The man's face is red. Final answer: maybe the food?\n"
        "Wait, look again: the drink is spilled.\n"
        "FINAL ANSWER:\n1. a spilled drink\n2. a rude waiter\n"
    )
    cast.role("answerer", default=reply)
    assert cast.answer(CoT(CoTConfig()), sample, image) == "1. a spilled drink\n2. a rude waiter"


def test_cot_answer_is_the_whole_reply_without_a_marker(cast, sample, image) -> None:
    cast.role("answerer", default="  1. a spilled drink\n2. a rude waiter \n")
    assert cast.answer(CoT(CoTConfig()), sample, image) == "1. a spilled drink\n2. a rude waiter"


def test_cot_cue_and_marker_come_from_config(cast, sample, image) -> None:
    cast.role("answerer", default="Clues first. [[verdict]] 1. the spilled drink")
    config = CoTConfig(cue="Reason like a detective.", marker="[[VERDICT]]")
    answer = cast.answer(CoT(config), sample, image)
    text = cast.log[0].text
    assert "Reason like a detective." in text and "[[VERDICT]]" in text
    assert "step by step" not in text and "Final answer:" not in text
    assert answer == "1. the spilled drink"  # the marker is matched literally, not as a regex


def test_cot_template_override_and_text_only_answerer(cast, sample, image) -> None:
    cast.role("answerer", vision=False, default="ok")
    config = CoTConfig(persona="none", template="{question} | {cue} | {marker}")
    cast.answer(CoT(config), sample, image)
    (seen,) = cast.log
    assert seen.text == f"{sample.question} | Let's think step by step. | Final answer:"
    assert seen.images == []


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("a\nFinal answer: b", "b"),
        ("a final ANSWER: b final answer: c", "c"),
        ("no marker here", "no marker here"),
        ("Final answer:   \n 1. x \n", "1. x"),
    ],
)
def test_final_answer(reply: str, expected: str) -> None:
    assert final_answer(reply, "Final answer:") == expected
