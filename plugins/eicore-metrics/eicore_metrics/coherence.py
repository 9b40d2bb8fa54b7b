"""The paper's secondary metric, long-term coherence, and answer length.

Coherence of an answer: the mean cosine of consecutive sentences (all-MiniLM-L6-v2 vectors by
default; ``variant=paper`` is the paper's spaCy sentences and BERT [CLS] vectors,
:mod:`eicore_metrics.paper_coherence`, whose values compare with its 80–86%). Answers of one
sentence have no pair: they are counted apart, never dropped silently.
Length: words per answer, with its rank correlation to each judge's recall, so a judge that
rewards long answers shows.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean, median
from typing import Any

import numpy as np

from eicore import EMOTIONS, ConfigError, Metric, SampleRecord
from eicore_metrics.embeddings import model_version, shared_encoder
from eicore_metrics.paper_coherence import PaperCoherence
from eicore_metrics.recall import judge_names, scored_samples
from eicore_metrics.semantic import sentences
from eicore_metrics.statistics import Bootstrap, mean_ci, pearson, ranks


@dataclass
class CoherenceConfig:
    resamples: int = 1000
    seed: int = 0
    level: float = 0.95
    variant: str = "minilm"
    """``minilm`` (eicore's, offline) or ``paper`` (spaCy sentences, BERT [CLS] vectors)."""
    spacy_model: str = "en_core_web_sm"
    """``paper`` variant: an installed spaCy pipeline, or ``sentencizer`` (rule-based)."""
    bert_model: str = "bert-base-uncased"
    """``paper`` variant: a BERT checkpoint (hub id in the local cache, or a folder)."""


def answer_coherence(answer: str) -> float | None:
    """Mean cosine of consecutive sentences; None for fewer than two sentences (blocking)."""
    parts = sentences(answer)
    if len(parts) < 2:
        return None
    vectors = shared_encoder().encode(parts)
    return float(np.einsum("sd,sd->s", vectors[:-1], vectors[1:]).mean())


class Coherence(Metric):
    """``coherence`` and ``answer_length`` in metrics.json, over answered samples."""

    config: CoherenceConfig

    def __init__(self, config: CoherenceConfig | None = None) -> None:
        super().__init__(config or CoherenceConfig())
        if self.config.variant not in ("minilm", "paper"):
            raise ConfigError(
                f"metric_options.coherence.variant={self.config.variant!r}: minilm or paper"
            )
        self.paper: PaperCoherence | None = None
        if self.config.variant == "paper":  # loaded now: a missing model fails before any call
            self.paper = PaperCoherence(self.config.spacy_model, self.config.bert_model)

    def compute(self, records: Sequence[SampleRecord]) -> dict[str, Any]:
        answers = {
            r.sample.id: (r.sample.emotion, r.response.text)
            for r in records
            if r.status == "answered" and r.response is not None
        }
        boot = Bootstrap(self.config.resamples, self.config.seed, self.config.level)
        coherence = self.paper or answer_coherence
        values = [coherence(text) for _, text in answers.values()]
        multi = [v for v in values if v is not None]
        words = {i: len(text.split()) for i, (_, text) in answers.items()}
        by_emotion: dict[str, list[int]] = defaultdict(list)
        for i, (emotion, _) in answers.items():
            if emotion:
                by_emotion[emotion].append(words[i])
        order = [e for e in EMOTIONS if e in by_emotion] + sorted(set(by_emotion) - set(EMOTIONS))
        return {
            "coherence": {
                "mean": fmean(multi) if multi else None,
                "ci": mean_ci(multi, boot),
                "n_answers": len(multi),
                "n_single_sentence": len(values) - len(multi),
                "variant": self.config.variant,
                "embedding_model": self.paper.version if self.paper else model_version(),
                "bootstrap": dataclasses.asdict(boot),
            },
            "answer_length": {
                "mean_words": fmean(words.values()) if words else None,
                "median_words": median(words.values()) if words else None,
                "by_emotion": {e: fmean(by_emotion[e]) for e in order},
                "recall_spearman": {
                    judge: length_recall(records, judge, words) for judge in judge_names(records)
                },
            },
        }


def length_recall(
    records: Sequence[SampleRecord], judge: str, words: dict[str, int]
) -> float | None:
    """Spearman's rho of answer length (words) and ``judge``'s recall, over scored samples."""
    scored, _ = scored_samples(records, judge)
    ids = [i for i in scored if i in words]
    if len(ids) < 2:
        return None
    lengths = np.array([words[i] for i in ids], dtype=float)
    recall = np.array([scored[i].score for i in ids])
    return pearson(ranks(lengths), ranks(recall))
