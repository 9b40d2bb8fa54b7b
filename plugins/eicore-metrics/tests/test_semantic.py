"""The semantic judge on hand-made answers, and the encoder behind it."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from eicore_metrics.embeddings import MODEL_NAME, SentenceEncoder, shared_encoder
from eicore_metrics.semantic import (
    DEFAULT_THRESHOLD,
    SemanticJudge,
    SemanticJudgeConfig,
    answer_units,
)

from eicore import Sample, build

TRIGGERS = (
    "The man is shouting at someone.",
    "Rainy, gloomy weather.",
    "A broken phone on the floor.",
)


@pytest.fixture(scope="module")
def judge() -> SemanticJudge:
    return build("judge", {"plugin": "semantic"})


def sample(triggers: tuple[str, ...] = TRIGGERS) -> Sample:
    return Sample("s1", "basic", "img.png", "Why is he angry?", triggers, "angry")


def test_paraphrase_is_recalled_and_unrelated_sentence_is_not(judge: SemanticJudge) -> None:
    answer = "1. He is yelling at another person.\n2. A birthday cake sits on the table."
    result = asyncio.run(judge.judge(sample(), answer))
    assert (result.judge, result.status, result.recalled, result.total) == ("semantic", "ok", 1, 3)
    assert result.matched == (0,)
    assert result.score == pytest.approx(1 / 3)
    assert "He is yelling at another person" in result.raw.splitlines()[0]


def test_unrelated_answer_recalls_nothing(judge: SemanticJudge) -> None:
    result = judge.judge_text(TRIGGERS, "A colourful kite flies over a sunny beach.")
    assert (result.recalled, result.matched) == (0, ())


def test_trigger_found_in_a_comma_clause(judge: SemanticJudge) -> None:
    answer = (
        "She sits alone in a dark kitchen late at night, hands covering her face, while a "
        "television plays an old football match in the background."
    )
    result = judge.judge_text(("Hands covering her face.",), answer)
    assert result.recalled == 1
    assert "'hands covering her face'" in result.raw


@pytest.mark.parametrize("answer", ["", "   \n", "1.\n2)\n- ...", "**;**"])
def test_answer_without_usable_units_scores_zero(judge: SemanticJudge, answer: str) -> None:
    result = asyncio.run(judge.judge(sample(), answer))
    assert (result.recalled, result.total, result.status, result.matched) == (0, 3, "ok", ())
    assert result.score == 0.0


def test_numbered_and_markdown_lists_are_split() -> None:
    answer = (
        "**Triggers:**\n"
        "1. Clenched fists, a red face.\n"
        "2) A heated argument; raised voices\n"
        "- **Broken** glass on the `floor`\n"
        "(3) Waiting since 1,000 B.C. Nothing changed!\n"
        "e.g. the weather"
    )
    assert answer_units(answer) == [
        "Triggers",
        "Clenched fists, a red face",
        "Clenched fists",
        "a red face",
        "A heated argument",
        "raised voices",
        "Broken glass on the floor",
        "Waiting since 1,000 B.C",
        "Nothing changed",
        "e.g. the weather",
    ]


def test_threshold_decides(judge: SemanticJudge) -> None:
    answer = "He is yelling at another person."
    strict = SemanticJudge(SemanticJudgeConfig(threshold=1.01)).judge_text(TRIGGERS, answer)
    lax = SemanticJudge(SemanticJudgeConfig(threshold=-1.0)).judge_text(TRIGGERS, answer)
    assert (strict.recalled, lax.recalled) == (0, 3)
    assert lax.matched == (0, 1, 2)


def test_describe_names_threshold_and_model(judge: SemanticJudge) -> None:
    described = judge.describe()
    assert described["plugin"] == "semantic"
    assert described["threshold"] == DEFAULT_THRESHOLD
    assert MODEL_NAME in described["embedding_model"]


def test_encoder_returns_unit_rows_and_embeds_each_text_once() -> None:
    encoder = SentenceEncoder(batch_size=2)
    vectors = encoder.encode(["a sad man", "a happy child", "a sad man", "rain"])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert encoder.cached == 3
    encoder.encode(["rain", "a happy child"])
    assert encoder.cached == 3
    assert encoder.encode([]).shape == (0, 384)


def test_shared_encoder_is_one_instance() -> None:
    assert shared_encoder() is shared_encoder()


def test_prepare_embeds_every_trigger_at_once_and_changes_no_verdict() -> None:
    triggers = [("1. A shouting man.", "**Rain** outside."), ("A lost dog.", "A shouting man.")]
    chosen = [
        Sample(f"s{i}", "basic", f"x/{i}.png", "Why?", ts, "angry") for i, ts in enumerate(triggers)
    ]
    answer = "He is yelling, and it rains.\nA dog ran away."
    unprepared = SemanticJudge(SemanticJudgeConfig())
    before = [unprepared.judge_text(s.triggers, answer) for s in chosen]
    encoder = SentenceEncoder()
    calls: list[list[str]] = []
    model = encoder._load()

    class Counting:
        def encode(self, texts: list[str], **kwargs: object) -> np.ndarray:
            calls.append(list(texts))
            vectors: np.ndarray = model.encode(texts, **kwargs)
            return vectors

    encoder._model = Counting()
    judge = SemanticJudge(SemanticJudgeConfig())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("eicore_metrics.semantic.shared_encoder", lambda: encoder)
        asyncio.run(judge.prepare(chosen))
        assert calls == [["A shouting man", "Rain outside", "A lost dog"]]  # one batch, once each
        after = [asyncio.run(judge.judge(s, answer)) for s in chosen]
    assert all(t not in c for c in calls[1:] for t in ("A shouting man", "A lost dog"))
    assert after == before
