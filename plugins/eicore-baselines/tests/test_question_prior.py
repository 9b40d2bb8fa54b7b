"""question-prior: leave-one-question-out answers, on hand-made data and on EIBench basic."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest
from eicore_baselines import question_prior
from eicore_baselines.neighbours import QuestionIndex
from eicore_baselines.question_prior import QuestionPrior, QuestionPriorConfig, numbered
from eicore_metrics.embeddings import shared_encoder

from eicore import Prompt, Sample, registered

PERSONA = (
    "You are an expert in emotion psychology.\n"
    "Look at the image carefully, then answer the question.\n"
)

TOY = {
    "a.png": ("Why is the man in the image angry?", "1. Raised fist\n2. Shouting"),
    "b.png": ("Why is the man in the image angry?", "1. Broken car\n2. Rain"),
    "c.png": ("Why is the man in the picture furious?", "1. Red face\n2. Clenched jaw"),
    "d.png": ("What makes the child at the beach so happy?", "1. Ice cream\n2. Sunshine"),
    "e.png": ("Why is the man in the image angry?'", "1. Stray quote"),
}


def prompt(question: str) -> Prompt:
    return Prompt.user(PERSONA + question, system="Answer briefly.")


def write_toy(folder: Path) -> dict[str, str]:
    questions, truth = folder / "user.jsonl", folder / "truth.json"
    questions.write_text("".join(json.dumps({k: q}) + "\n" for k, (q, _) in TOY.items()))
    truth.write_text(json.dumps({k: t for k, (_, t) in TOY.items()}))
    return {"plugin": "eibench", "questions": str(questions), "ground_truth": str(truth)}


@pytest.fixture
def toy(tmp_path: Path) -> QuestionPrior:
    return QuestionPrior(QuestionPriorConfig(data=write_toy(tmp_path)))


@pytest.fixture(scope="module")
def basic(eibench_root: Path) -> QuestionPrior:
    return QuestionPrior(QuestionPriorConfig(data={"plugin": "eibench", "root": str(eibench_root)}))


def answer(model: QuestionPrior, *prompts: Prompt) -> list[str]:
    return [c.text for c in asyncio.run(model.generate(prompts))]


def test_identical_question_texts_are_excluded(toy: QuestionPrior) -> None:
    (text,) = answer(toy, prompt("Why is the man in the image angry?"))
    assert text == "1. Stray quote"  # not a's or b's (the same text): e's, one quote away


def test_question_inside_a_longer_one_is_excluded_too(toy: QuestionPrior) -> None:
    (text,) = answer(toy, prompt("Why is the man in the image angry?'"))
    assert text == "1. Red face\n2. Clenched jaw"  # e, and a and b inside it, left out


def test_prompt_without_a_dataset_question_still_answers(toy: QuestionPrior) -> None:
    question = "Why is the girl smiling on the sand by the sea?"
    (completion,) = asyncio.run(toy.generate([prompt(question)]))
    assert completion.text == "1. Ice cream\n2. Sunshine"
    assert completion.finish_reason == "stop"


def test_concurrent_first_calls_build_the_index_once(
    toy: QuestionPrior, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = []
    build = QuestionIndex.build

    def counting(*args: object) -> QuestionIndex:
        builds.append(1)
        return build(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(question_prior.QuestionIndex, "build", counting)

    async def both() -> list[list[str]]:
        calls = [toy.generate([prompt(q)]) for q, _ in TOY.values()]
        return [[c.text for c in r] for r in await asyncio.gather(*calls)]

    assert all(texts[0] for texts in asyncio.run(both()))
    assert len(builds) == 1


def test_a_split_with_one_question_has_no_answer() -> None:
    only = Sample("x", "basic", "x.png", "Why?", ("t",))
    assert QuestionIndex.build([only], shared_encoder()).nearest("Why?") is None


def test_identity_follows_content_not_subset(tmp_path: Path) -> None:
    data = write_toy(tmp_path)
    whole = QuestionPrior(QuestionPriorConfig(data=data)).identity()
    subset = {**data, "limit": 2, "emotions": ["angry"]}
    limited = QuestionPrior(QuestionPriorConfig(data=subset)).identity()
    assert whole == limited
    truth = Path(data["ground_truth"])
    truth.write_text(truth.read_text().replace("Sunshine", "Sand"))
    assert QuestionPrior(QuestionPriorConfig(data=data)).identity() != whole


def test_registered_as_a_blind_model() -> None:
    registration = registered("model")["question-prior"]
    assert registration.plugin == "baselines"
    assert registration.config_class is QuestionPriorConfig
    assert QuestionPrior.accepts_images is False
    assert QuestionPriorConfig().batch_size > 1


def test_leave_one_out_on_eibench_basic(basic: QuestionPrior) -> None:
    samples = basic.samples
    by_answer = {numbered(s.triggers): s for s in samples}
    assert len(by_answer) == len(samples)  # no two samples share a trigger list
    texts = answer(basic, *(prompt(s.question) for s in samples))
    for sample, text in zip(samples, texts, strict=True):
        source = by_answer[text]
        assert source.question != sample.question, sample.id
        assert text != numbered(sample.triggers), sample.id
    unique = [s for s, n in Counter(s.question for s in samples).items() if n == 1]
    assert len(unique) > 1000


def test_most_repeated_question_never_answers_from_its_group(basic: QuestionPrior) -> None:
    question, count = Counter(s.question for s in basic.samples).most_common(1)[0]
    assert count > 10
    group = {numbered(s.triggers) for s in basic.samples if s.question == question}
    (text,) = answer(basic, prompt(question))
    assert text not in group
