"""Nearest other question of a split, by cosine of sentence embeddings, leaving one question out.

The unit left out is the question *text*, not the sample: EIBench basic asks the same question
about many images (1,615 samples, 1,283 distinct questions; one text is used for 35 images), so
excluding only the sample would let a sample be answered from its twins' ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from eicore_metrics.embeddings import SentenceEncoder

from eicore import Sample


@dataclass(frozen=True)
class QuestionIndex:
    """A split's distinct questions (in dataset order), their unit vectors, who asks each."""

    questions: tuple[str, ...]
    vectors: np.ndarray
    samples: tuple[Sample, ...]
    """``samples[i]`` is the first sample, in dataset order, asking ``questions[i]``."""
    encoder: SentenceEncoder
    prefix_length: int = field(init=False, compare=False)
    """The shortest question's length: every question has a prefix this long."""
    by_prefix: dict[str, tuple[int, ...]] = field(init=False, compare=False)
    """Question indices by their first ``prefix_length`` characters (see :meth:`contained`)."""

    def __post_init__(self) -> None:
        k = min((len(q) for q in self.questions), default=0)
        groups: dict[str, list[int]] = {}
        for i, question in enumerate(self.questions):
            groups.setdefault(question[:k], []).append(i)
        object.__setattr__(self, "prefix_length", k)
        object.__setattr__(self, "by_prefix", {p: tuple(ids) for p, ids in groups.items()})

    @classmethod
    def build(cls, samples: Sequence[Sample], encoder: SentenceEncoder) -> QuestionIndex:
        """Embed every distinct question of ``samples`` (blocking)."""
        first: dict[str, Sample] = {}
        for sample in samples:
            first.setdefault(sample.question, sample)
        questions = tuple(first)
        return cls(questions, encoder.encode(questions), tuple(first.values()), encoder)

    def contained(self, text: str) -> list[int]:
        """Indices of the questions that occur verbatim in ``text``, in order.

        A question starts where its prefix does, so each position of ``text`` is one dict
        lookup (a scan of every question per prompt was a second of a default run's 40)."""
        k = self.prefix_length
        if k == 0:  # an empty question is in every text
            return [i for i, question in enumerate(self.questions) if question in text]
        found = {
            i
            for start in range(len(text) - k + 1)
            for i in self.by_prefix.get(text[start : start + k], ())
            if text.startswith(self.questions[i], start)
        }
        return sorted(found)

    def nearest(self, text: str) -> Sample | None:
        """The first sample of the question most similar to the one ``text`` asks, or None.

        When ``text`` contains dataset questions, the longest of them is the query and every
        contained question is excluded (a question inside a longer one, e.g. the same text
        without a stray quote, might be this sample's own). Otherwise ``text`` itself is
        embedded and nothing is excluded. Ties go to the question that comes first.
        """
        found = self.contained(text)
        if found:
            query = self.vectors[max(found, key=lambda i: len(self.questions[i]))]
        else:
            query = self.encoder.encode([text])[0]
        scores = np.einsum("qd,d->q", self.vectors, query)  # not @: see semantic.best_matches
        scores[found] = -np.inf
        if not np.isfinite(scores).any():
            return None
        return self.samples[int(np.argmax(scores))]
