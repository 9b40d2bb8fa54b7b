"""The coherence metric and answer lengths on hand-made answers."""

from __future__ import annotations

import numpy as np
import pytest
from eicore_metrics.coherence import Coherence, answer_coherence
from eicore_metrics.embeddings import shared_encoder

from eicore import Judgment, Response, Sample, SampleRecord


def record(i: int, answer: str, emotion: str, recalled: int) -> SampleRecord:
    sample = Sample(f"s{i}", "basic", f"{i}.png", "q", ("a", "b", "c", "d"), emotion)
    return SampleRecord(sample, "answered", Response(answer), (Judgment("j", recalled, 4),))


def test_coherence_is_the_mean_cosine_of_consecutive_sentences() -> None:
    parts = ["He is shouting at a waiter", "The soup is cold", "Rain hits the window"]
    vectors = shared_encoder().encode(parts)
    expected = (vectors[0] @ vectors[1] + vectors[1] @ vectors[2]) / 2
    answer = "1. He is shouting at a waiter.\n2. The soup is cold. Rain hits the window."
    got = answer_coherence(answer)
    assert got == pytest.approx(float(expected), abs=1e-6)
    assert answer_coherence("Same words here. Same words here.") == pytest.approx(1.0, abs=1e-5)
    assert answer_coherence("Only one sentence, with a clause.") is None


def test_metric_counts_single_sentence_answers_and_lengths() -> None:
    records = [
        record(1, "A man shouts. A waiter flees. Plates break.", "angry", 4),
        record(2, "One sentence only", "angry", 1),
        record(3, "She smiles at a gift. Friends cheer.", "happy", 4),
        SampleRecord(Sample("s4", "basic", "4.png", "q", ("a",), "sad"), "failed"),
    ]
    result = Coherence().compute(records)
    coherence, length = result["coherence"], result["answer_length"]
    multi = [answer_coherence(r.response.text) for r in records[::2] if r.response]
    assert (coherence["n_answers"], coherence["n_single_sentence"]) == (2, 1)
    assert coherence["mean"] == pytest.approx(np.mean(multi))
    assert coherence["ci"][0] <= coherence["mean"] <= coherence["ci"][1]
    assert length["mean_words"] == pytest.approx((8 + 3 + 7) / 3) and length["median_words"] == 7
    assert length["by_emotion"] == {"happy": 7, "angry": 5.5}
    # lengths 8, 3, 7 and recalls 1.0, 0.25, 1.0: ranks (3, 1, 2) and (2.5, 1, 2.5)
    assert length["recall_spearman"]["j"] == pytest.approx(np.sqrt(3) / 2)


def test_no_answers_give_empty_values() -> None:
    result = Coherence().compute([])
    assert result["coherence"]["mean"] is None and result["coherence"]["n_answers"] == 0
    assert result["answer_length"]["mean_words"] is None
