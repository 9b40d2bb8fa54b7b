"""The ``semantic`` judge: a trigger is recalled when some unit of the answer is close to it.

Offline and deterministic: the answer is cut into units (sentences, and their comma clauses),
triggers and units are embedded with all-MiniLM-L6-v2, and a trigger counts as recalled when
its best unit's cosine reaches the threshold (``partly`` when it only reaches
``partial_threshold``, if set). An answer item (a sentence) is supported when it or one of its
clauses reaches the threshold for some trigger: the base of precision. ``docs/judges.md`` gives
the threshold's calibration. It approximates the paper's LLM judge; it is not that judge.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eicore import AnswerItem, Judge, Judgment, ModelRole, Sample, TriggerVerdict, excerpt
from eicore_metrics.embeddings import model_version, shared_encoder

DEFAULT_THRESHOLD = 0.62
"""The 99th percentile of the different-emotion null (0.61–0.63 over seeds), so about 1 in 100
triggers is matched by an unrelated trigger list: calibration/null_threshold.py, docs/judges.md."""

_ABBREVIATIONS = ("e.g.", "i.e.", "Mr.", "Mrs.", "Ms.", "Dr.", "vs.")
_SENTENCES = re.compile(
    r"\n+|;|" + "".join(f"(?<!\\b{re.escape(a)})" for a in _ABBREVIATIONS) + r"(?<=[.!?])\s+"
)
_CLAUSES = re.compile(r"(?<!\d),|,(?!\d)")
_LEADING_MARKS = re.compile(r"^(?:[-*+•·>#]+\s*|\(?\d+\s*[.):](?=\s|$)\s*)+")
_INLINE_MARKS = re.compile(r"\*\*|__|`")
_EDGE_PUNCTUATION = " \t\"'“”‘’()[]{}:,.;!?-–—"


@dataclass
class SemanticJudgeConfig:
    threshold: float = DEFAULT_THRESHOLD
    """Cosine at or above which an answer unit recalls a ground-truth trigger."""
    partial_threshold: float | None = None
    """Cosine at or above which (below ``threshold``) a trigger is ``partly`` matched; None:
    triggers are matched or missed."""
    partial_credit: float = 0.5
    """What a ``partly`` trigger counts towards recall, as for the ``llm`` judge."""


def strip_marks(text: str) -> str:
    """Text without list numbering, bullets, markdown emphasis and edge punctuation."""
    text = _INLINE_MARKS.sub("", text).strip()
    return _LEADING_MARKS.sub("", text).strip(_EDGE_PUNCTUATION)


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def sentences(answer: str) -> list[str]:
    """The answer's sentences, in order: lines, sentence ends and semicolons separate them; list
    marks and markdown are stripped, and pieces without a letter dropped."""
    return [s for s in (strip_marks(p) for p in _SENTENCES.split(answer)) if _has_letter(s)]


def sentence_units(sentence: str) -> list[str]:
    """A sentence and its comma clauses (when it has several), without marks."""
    clauses = [strip_marks(c) for c in _CLAUSES.split(sentence)]
    return [sentence, *clauses] if len(clauses) > 1 else [sentence]


def answer_units(answer: str) -> list[str]:
    """:func:`sentences` of the answer and their comma clauses.

    Full sentences are kept beside their clauses. Units without a letter are dropped; each
    unit appears once.
    """
    units = [u for sentence in sentences(answer) for u in sentence_units(sentence)]
    return list(dict.fromkeys(u for u in units if _has_letter(u)))


@dataclass(frozen=True)
class Match:
    """A trigger's best answer unit and their cosine."""

    trigger: str
    unit: str
    cosine: float


def similarities(triggers: Sequence[str], units: Sequence[str]) -> np.ndarray:
    """Cosines of each trigger (rows, without marks) to each unit (blocking: embeds)."""
    encoder = shared_encoder()
    vectors = encoder.encode([strip_marks(t) for t in triggers]), encoder.encode(units)
    # einsum, not @: BLAS's own threads, started from many worker threads, spin against
    # torch's; on 2 cores the default run took 71 s with @ and 30 s with einsum
    similarity: np.ndarray = np.einsum("td,ud->tu", *vectors)
    return similarity


def best_matches(triggers: Sequence[str], units: Sequence[str]) -> list[Match]:
    """For each trigger, the unit with the highest cosine (blocking: embeds with the encoder).

    Triggers are compared without their marks (:func:`strip_marks`), as units are.
    """
    return matches_of(triggers, units, similarities(triggers, units))


def matches_of(
    triggers: Sequence[str], units: Sequence[str], similarity: np.ndarray
) -> list[Match]:
    best = similarity.argmax(axis=1)
    return [
        Match(trigger, units[j], float(similarity[i, j]))
        for i, (trigger, j) in enumerate(zip(triggers, best, strict=True))
    ]


def explain(matches: Sequence[Match], threshold: float) -> str:
    """One line per trigger: recalled or not, the cosine, the trigger and its best unit.

    Each distinct text is cut once (a unit is often several triggers' best): masking scans
    every known secret (~40 µs a text here) and was most of this judge's own time."""
    short: dict[str, str] = {}
    for text in (t for m in matches for t in (m.trigger, m.unit)):
        if text not in short:
            short[text] = excerpt(text, 80)
    return "\n".join(
        f"[{'x' if m.cosine >= threshold else ' '}] {m.cosine:.2f} {short[m.trigger]}"
        f" ~ {short[m.unit]!r}"
        for m in matches
    )


class SemanticJudge(Judge):
    """Embedding-similarity recall; see :func:`answer_units` for how answers are cut."""

    config: SemanticJudgeConfig

    @property
    def name(self) -> str:
        return str(getattr(self.config, "plugin", "semantic"))

    def threshold_source(self) -> str:
        """Where the threshold came from: the null (the default), a calibration, or the user."""
        threshold = self.config.threshold
        calibration = getattr(self.config, "calibration", None)
        if calibration and calibration.get("threshold") == threshold:
            return (
                f"calibrated against judge {calibration['reference']!r} on "
                f"{calibration['n']} samples of {calibration['run']}"
            )
        if threshold == DEFAULT_THRESHOLD:
            return "default: 99th percentile of the different-emotion null (docs/judges.md)"
        return "set in the run's config"

    def describe(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self.config),
            "plugin": self.name,
            "threshold_source": self.threshold_source(),
            "embedding_model": model_version(),
            "units": "sentences and comma clauses of the answer",
        }

    async def prepare(self, samples: Sequence[Sample]) -> None:
        """Embed every sample's triggers now, in one batch: a sample's few texts at a time
        cost the encoder ~1.6x the CPU of the same texts in length-sorted full batches."""
        triggers = [strip_marks(t) for s in samples for t in s.triggers]
        await shared_encoder().aembed(triggers)

    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        """Awaits the texts' embeddings on the event loop (no thread waits on the encoder, so
        the model's batches take every sample in flight), then judges on the loop: cosines of
        embedded texts take well under a millisecond."""
        units = answer_units(answer)
        if units:
            await shared_encoder().aembed([*(strip_marks(t) for t in sample.triggers), *units])
        return self.judge_units(sample.triggers, answer, units)

    def judge_text(self, triggers: Sequence[str], answer: str) -> Judgment:
        """The judgment of ``answer`` against ``triggers`` (blocking)."""
        return self.judge_units(triggers, answer, answer_units(answer))

    def judge_units(self, triggers: Sequence[str], answer: str, units: list[str]) -> Judgment:
        """:meth:`judge_text` with the answer's :func:`answer_units` already cut (blocking)."""
        if not units:
            missed = tuple(TriggerVerdict("missed") for _ in triggers)
            return Judgment(
                self.name, 0, len(triggers), "ok", "no usable text in the answer", triggers=missed
            )
        similarity = similarities(triggers, units)
        matches = matches_of(triggers, units, similarity)
        c = self.config
        verdicts = tuple(
            TriggerVerdict("matched", m.unit)
            if m.cosine >= c.threshold
            else TriggerVerdict("partly", m.unit)
            if c.partial_threshold is not None and m.cosine >= c.partial_threshold
            else TriggerVerdict("missed")
            for m in matches
        )
        matched = tuple(i for i, v in enumerate(verdicts) if v.verdict == "matched")
        partly = sum(v.verdict == "partly" for v in verdicts)
        column = {u: j for j, u in enumerate(units)}
        items = tuple(
            AnswerItem(
                sentence,
                bool(
                    (
                        similarity[:, [column[u] for u in sentence_units(sentence) if u in column]]
                        >= c.threshold
                    ).any()
                ),
            )  # fmt: skip
            for sentence in sentences(answer)
        )
        return Judgment(
            judge=self.name,
            recalled=len(matched),
            total=len(triggers),
            status="ok",
            raw=explain(matches, c.threshold),
            matched=matched,
            triggers=verdicts,
            items=items,
            credit=len(matched) + c.partial_credit * partly if partly else None,
        )
