"""The records that cross every boundary: samples, prompts, completions, responses, judgments."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

EMOTIONS = ("happy", "angry", "sad", "excited")
"""EIBench's basic emotions, in the column order of the paper's tables."""


@dataclass(frozen=True)
class Sample:
    """One question about one image, with its ground-truth triggers."""

    id: str
    split: str
    image: str
    question: str
    triggers: tuple[str, ...]
    emotion: str | None = None
    flags: tuple[str, ...] = ()
    """Data defects surfaced by the loader (e.g. ``question-is-refusal``), never silently fixed."""
    truth: str = ""
    """The ground truth as the data file gives it (the paper's judges quote it verbatim)."""


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    """An image already resolved and read: the bytes, their media type and digest."""

    path: Path
    data: bytes = field(repr=False)
    media_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


Part = TextPart | ImagePart


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(frozen=True)
class Prompt:
    """A chat prompt: messages whose parts are text or images."""

    messages: tuple[Message, ...]

    @classmethod
    def user(cls, *parts: Part | str, system: str | None = None) -> Prompt:
        """One user turn (strings become text parts), with an optional system message."""
        content = tuple(TextPart(p) if isinstance(p, str) else p for p in parts)
        head = (Message("system", (TextPart(system),)),) if system else ()
        return cls(head + (Message("user", content),))

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(p for m in self.messages for p in m.parts if isinstance(p, ImagePart))

    def split_system(self, system: str | None = None) -> tuple[str, tuple[Message, ...]]:
        """The system text and the other turns, for APIs that take system text apart.

        The text is ``system`` (a model's own, from its config) then the prompt's system
        messages, joined by blank lines; "" when there is none."""
        texts = [system] if system else []
        texts += [m.text for m in self.messages if m.role == "system"]
        return "\n\n".join(texts), tuple(m for m in self.messages if m.role != "system")

    def fingerprint(self) -> list[dict[str, Any]]:
        """A JSON-able form with images replaced by their digests: the prompt's identity."""
        return [
            {
                "role": m.role,
                "parts": [
                    {"text": p.text} if isinstance(p, TextPart) else {"image_sha256": p.sha256}
                    for p in m.parts
                ],
            }
            for m in self.messages
        ]


@dataclass(frozen=True)
class Completion:
    """What a model returned for one prompt."""

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float = 0.0
    finish_reason: str | None = None
    batch: bool = False
    """Made through a provider batch (``model.batch_api``), billed at the batch discount."""


@dataclass(frozen=True)
class Call:
    """One model call made by a strategy, as recorded in a response's trace."""

    role: str
    round: int
    prompt: list[dict[str, Any]]
    completion: Completion
    cached: bool


@dataclass(frozen=True)
class Response:
    """A strategy's final answer and the trace of every call that produced it."""

    text: str
    trace: tuple[Call, ...] = ()


JudgmentStatus = Literal["ok", "unparsed", "error"]

TriggerLabel = Literal["matched", "partly", "missed"]


@dataclass(frozen=True)
class TriggerVerdict:
    """One ground-truth trigger as a judge saw it in the answer."""

    verdict: TriggerLabel
    span: str = ""
    """The answer's words that matched it (empty when missed or not given)."""


@dataclass(frozen=True)
class AnswerItem:
    """One item of the answer and whether some ground-truth trigger supports it."""

    text: str
    supported: bool


@dataclass(frozen=True)
class Judgment:
    """How many of a sample's ground-truth triggers an answer recalled, as one judge saw it."""

    judge: str
    recalled: int | None
    total: int
    status: JudgmentStatus = "ok"
    raw: str = ""
    matched: tuple[int, ...] = ()
    """Indices of the recalled triggers, where the judge can tell."""
    trace: tuple[Call, ...] = ()
    """The judge's model calls for this verdict (role ``judge:<name>``), set by the run."""
    triggers: tuple[TriggerVerdict, ...] = ()
    """Per ground-truth trigger, in order, when the judge gives per-trigger verdicts."""
    items: tuple[AnswerItem, ...] = ()
    """Per answer item, when the judge says which are supported (the base of precision)."""
    credit: float | None = None
    """Recall's numerator with partly matched triggers at the judge's partial credit; None when
    it is ``recalled``."""

    @property
    def score(self) -> float | None:
        """Recall: credit (else recalled) / total, or None when the judgment could not be parsed."""
        if self.status != "ok" or self.recalled is None or self.total == 0:
            return None
        return (self.recalled if self.credit is None else self.credit) / self.total

    @property
    def precision(self) -> float | None:
        """The share of answer items some trigger supports; None without items."""
        if self.status != "ok" or not self.items:
            return None
        return sum(i.supported for i in self.items) / len(self.items)

    @property
    def f1(self) -> float | None:
        """The harmonic mean of recall and precision (0 when both are 0); None without both."""
        recall, precision = self.score, self.precision
        if recall is None or precision is None:
            return None
        return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


SampleStatus = Literal["answered", "failed"]


@dataclass(frozen=True)
class SampleRecord:
    """Everything a run learned about one sample; written as soon as the sample finishes."""

    sample: Sample
    status: SampleStatus
    response: Response | None = None
    judgments: tuple[Judgment, ...] = ()
    error_type: str | None = None
    error: str | None = None

    @property
    def calls(self) -> tuple[Call, ...]:
        """Every model call the sample took: the strategy's, then each judge's."""
        answered = self.response.trace if self.response else ()
        return answered + tuple(c for j in self.judgments for c in j.trace)


def record_to_dict(record: SampleRecord) -> dict[str, Any]:
    """The JSON form of a record (the shape of ``records.jsonl``).

    Its lists and dicts (a call's prompt) are the record's own, not copies: it is for writing
    out (``dataclasses.asdict`` deep-copies every value, several times slower per sample).
    """
    form: dict[str, Any] = _json_form(record)
    return form


_AS_IS = (str, int, float, bool, type(None), list, dict)


def _json_form(value: Any) -> Any:
    """Dataclasses as dicts and tuples as lists, all the way down; other values as they are."""
    if isinstance(value, _AS_IS):
        return value
    if isinstance(value, tuple):
        return [_json_form(v) for v in value]
    return {f.name: _json_form(getattr(value, f.name)) for f in fields(value)}


def record_from_dict(data: dict[str, Any]) -> SampleRecord:
    """Rebuild a record from :func:`record_to_dict`'s output."""
    s = data["sample"]
    sample = Sample(**{**s, "triggers": tuple(s["triggers"]), "flags": tuple(s["flags"])})
    response = None
    if data["response"] is not None:
        r = data["response"]
        response = Response(text=r["text"], trace=_calls(r["trace"]))
    judgments = tuple(judgment_from_dict(j) for j in data["judgments"])
    return SampleRecord(
        sample=sample,
        status=data["status"],
        response=response,
        judgments=judgments,
        error_type=data["error_type"],
        error=data["error"],
    )


def _calls(rows: Any) -> tuple[Call, ...]:
    return tuple(Call(**{**c, "completion": Completion(**c["completion"])}) for c in rows)


def judgment_from_dict(data: dict[str, Any]) -> Judgment:
    """Rebuild a judgment from its JSON form (records written before traces or per-trigger
    verdicts too)."""
    return Judgment(
        **{
            **data,
            "matched": tuple(data["matched"]),
            "trace": _calls(data.get("trace", ())),
            "triggers": tuple(TriggerVerdict(**t) for t in data.get("triggers", ())),
            "items": tuple(AnswerItem(**i) for i in data.get("items", ())),
        }
    )
