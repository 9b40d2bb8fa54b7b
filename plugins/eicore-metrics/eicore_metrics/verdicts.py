"""Reading an LLM judge's verdict: per-trigger verdicts (``{"triggers": [...], "items": [...]}``),
``{score: k/n}`` in any case, spacing or brackets, or the structured form ``{"matched": [1, 3]}``.

Policy (recorded in metrics.json as :data:`PARSE_POLICY`): per-trigger verdicts win when present
(JSON, repaired when it is nearly JSON); then the structured form; else the *last* score in the
reply that is not an echo of the instruction; else one ``<n>. … matched|partly|missed`` line per
trigger (last, so a paper-style reply that lists triggers is read by its score); none → None.
A score of nothing (``{score: 0/0}``) is no verdict. An echo is a score whose surrounding text
is the instruction's around one of its examples, or one repeating an example's numbers after
another score of the reply (unless its total is the sample's own).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from eicore import AnswerItem, TriggerVerdict

PARSE_POLICY = (
    'per-trigger JSON {"triggers": [{"n", "verdict", "span"}], "items": [{"n", "supported"}]} '
    "preferred (repaired for single quotes, trailing commas, Python literals; unlisted "
    'triggers missed); then structured {"matched": [i, ...]} (1-based); else the last '
    "\"score: k/n\" (case, spacing, brackets, markdown and 'k out of n' tolerated; n > 0) not "
    "echoed from the instruction; else lines '<n>. ... matched|partly|missed'; correct clipped to "
    "[0, true total]; total taken from the ground truth"
)

SCORE = re.compile(
    r"score[\s*_\"']*[:=][\s*_\"'({\[]*(\d+)\s*(?:/|out\s+of|of)\s*(\d+)",
    re.IGNORECASE,
)
MATCHED = re.compile(r"\{[^{}]*[\"']matched[\"']\s*:\s*\[[^\[\]]*\][^{}]*\}", re.IGNORECASE)
_CONTEXT = 24
"""Characters before a score compared with the instruction to recognise an echo ..."""
_MIN_CONTEXT = 12
"""... of which at least this many must be there and agree."""


@dataclass(frozen=True)
class Verdict:
    """What a judge's reply said: ``recalled`` of ``stated_total`` (None for the JSON form)."""

    recalled: int
    stated_total: int | None
    matched: tuple[int, ...]
    """0-based indices of the recalled triggers (JSON form only)."""
    form: Literal["triggers", "json", "score"]
    notes: tuple[str, ...] = ()
    triggers: tuple[TriggerVerdict, ...] = ()
    """Per ground-truth trigger (per-trigger form only)."""
    supported: tuple[bool | None, ...] = ()
    """Per answer item: whether a trigger supports it; None when the reply did not say."""


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


@dataclass(frozen=True)
class Example:
    """A score-like example of an instruction: the text around it (normalised), its numbers."""

    before: str
    after: str
    numbers: tuple[int, int]


def echo_contexts(instruction: str) -> tuple[Example, ...]:
    """Each score-like example in an instruction, with the text just before and after it."""
    return tuple(
        Example(
            _squash(instruction[: m.start()])[-_CONTEXT:],
            _squash(instruction[m.end() :])[:_CONTEXT].lstrip(" }"),
            (int(m.group(1)), int(m.group(2))),
        )
        for m in SCORE.finditer(instruction)
    )


def _is_echo(reply: str, found: re.Match[str], contexts: Sequence[Example]) -> bool:
    before = _squash(reply[: found.start()])[-_CONTEXT:]
    after = _squash(reply[found.end() :])[:_CONTEXT].lstrip(" }")
    return any(
        (len(before) >= _MIN_CONTEXT and c.before.endswith(before))
        or (len(after) >= _MIN_CONTEXT and c.after.startswith(after[:_MIN_CONTEXT]))
        for c in contexts
    )


def _structured(reply: str, total: int) -> Verdict | None:
    for found in reversed(list(MATCHED.finditer(reply))):
        try:
            data = json.loads(found.group(0).replace("'", '"'))
        except json.JSONDecodeError:
            continue
        items = next((v for k, v in data.items() if k.lower() == "matched"), None)
        if not isinstance(items, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in items
        ):
            continue
        kept = sorted({i - 1 for i in items if 1 <= i <= total})
        notes: tuple[str, ...] = ()
        if len(kept) != len(items):
            notes = (f"matched {items}: indices outside 1..{total} or repeated; kept {len(kept)}",)
        return Verdict(len(kept), None, tuple(kept), "json", notes)
    return None


def parse_verdict(reply: str, total: int, contexts: Sequence[Example] = ()) -> Verdict | None:
    """The verdict in ``reply`` for a sample of ``total`` triggers, or None when there is none.

    ``contexts`` (from :func:`echo_contexts` of the instruction) mark scores echoed from it.
    """
    per_trigger = _trigger_json(reply, total)
    if per_trigger is not None:
        return per_trigger
    structured = _structured(reply, total)
    if structured is not None:
        return structured
    scores = [
        m for m in SCORE.finditer(reply)
        if int(m.group(2)) > 0 and not _is_echo(reply, m, contexts)
    ]  # fmt: skip
    examples = {c.numbers for c in contexts if c.numbers[1] != total}
    while len(scores) > 1 and (int(scores[-1].group(1)), int(scores[-1].group(2))) in examples:
        scores.pop()  # an example's numbers (not this sample's total) after the reply's verdict
    if not scores:
        return _from_lines(reply, total)
    last = scores[-1]
    notes = (f"{len(scores)} scores in the reply; the last was taken",) if len(scores) > 1 else ()
    return Verdict(int(last.group(1)), int(last.group(2)), (), "score", notes)


LABELS: dict[str, Literal["matched", "partly", "missed"]] = {
    "matched": "matched", "match": "matched", "yes": "matched", "true": "matched",
    "full": "matched", "fully": "matched", "identified": "matched", "found": "matched",
    "partly": "partly", "partial": "partly", "partially": "partly", "partially matched": "partly",
    "missed": "missed", "miss": "missed", "no": "missed", "false": "missed",
    "not matched": "missed", "absent": "missed", "not found": "missed", "none": "missed",
}  # fmt: skip
"""Verdict words a judge may use → the label they stand for."""
_LINE = re.compile(
    r"^[^\S\n]*\W{0,3}(?:trigger\s*)?#?(\d+)\s*[.):\-–—]?[^\n]*?\b"
    r"(not matched|not found|partially matched|matched|partly|partially|partial|missed|absent)"
    r"\b([^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTED = re.compile(r"[\"“]([^\"”]+)[\"”]")
_NUMBER_KEYS = ("n", "trigger", "id", "index", "number", "i", "item")
_SPAN_KEYS = ("span", "evidence", "answer_span", "quote", "match")


def _objects(reply: str) -> list[str]:
    """Every balanced ``{...}`` of the reply (outermost first), strings respected."""
    found: list[str] = []
    stack: list[int] = []
    quote = ""
    for i, ch in enumerate(reply):
        if quote:
            if ch == quote and reply[i - 1] != "\\":
                quote = ""
        elif ch == '"' and stack:
            quote = ch
        elif ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            start = stack.pop()
            if not stack:
                found.append(reply[start : i + 1])
    return found


def _loads(text: str) -> Any:
    """JSON, or nearly JSON: single quotes, trailing commas, Python's True/False/None."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    fixed = re.sub(r",\s*([}\]])", r"\1", text)
    fixed = re.sub(r"\bTrue\b", "true", re.sub(r"\bFalse\b", "false", fixed))
    fixed = re.sub(r"\bNone\b", "null", fixed)
    for candidate in (fixed, re.sub(r"(?<![A-Za-z])'|'(?![A-Za-z])", '"', fixed)):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    return None


def _get(entry: dict[str, Any], keys: Sequence[str]) -> Any:
    lowered = {str(k).lower(): v for k, v in entry.items()}
    return next((lowered[k] for k in keys if k in lowered), None)


def _label(value: Any) -> Literal["matched", "partly", "missed"] | None:
    if isinstance(value, bool):
        return "matched" if value else "missed"
    return LABELS.get(str(value).strip().lower().replace("_", " ")) if value is not None else None


def _numbered(entries: Any) -> list[tuple[int | None, dict[str, Any]]]:
    """List entries (dicts, or bare labels) or a ``{"1": ...}`` mapping as (number, entry)."""
    if isinstance(entries, dict):
        pairs = []
        for k, v in entries.items():
            number = int(k) if str(k).strip().isdigit() else None
            pairs.append((number, v if isinstance(v, dict) else {"verdict": v}))
        return pairs
    if not isinstance(entries, list):
        return []
    out: list[tuple[int | None, dict[str, Any]]] = []
    for position, entry in enumerate(entries, start=1):
        entry = entry if isinstance(entry, dict) else {"verdict": entry}
        number = _get(entry, _NUMBER_KEYS)
        out.append((number if isinstance(number, int) else position, entry))
    return out


def _from_json(data: dict[str, Any], total: int) -> Verdict | None:
    lowered = {str(k).lower(): v for k, v in data.items()}
    triggers = lowered.get("triggers", lowered.get("verdicts"))
    if triggers is None:
        return None
    labels: dict[int, TriggerVerdict] = {}
    notes: list[str] = []
    for number, entry in _numbered(triggers):
        label = _label(_get(entry, ("verdict", "label", "status", "result", "matched")))
        if number is None or not 1 <= number <= total or label is None or number in labels:
            notes.append(f"trigger entry {entry!r} unreadable, out of 1..{total} or repeated")
            continue
        span = _get(entry, _SPAN_KEYS)
        labels[number] = TriggerVerdict(label, str(span) if isinstance(span, str) else "")
    if not labels:
        return None
    supported: dict[int, bool] = {}
    for number, entry in _numbered(lowered.get("items", lowered.get("answer_items", []))):
        value = _get(entry, ("supported", "verdict", "label"))
        label = _label(value)
        if number is not None and label is not None:
            supported[number] = label != "missed"
    n_items = max(supported, default=0)
    return _verdict(labels, total, notes, tuple(supported.get(i) for i in range(1, n_items + 1)))


def _verdict(
    labels: dict[int, TriggerVerdict],
    total: int,
    notes: list[str],
    supported: tuple[bool | None, ...] = (),
) -> Verdict:
    absent = [i for i in range(1, total + 1) if i not in labels]
    if absent:
        notes.append(f"no verdict for triggers {absent}: counted missed")
    verdicts = tuple(labels.get(i, TriggerVerdict("missed")) for i in range(1, total + 1))
    matched = tuple(i for i, v in enumerate(verdicts) if v.verdict == "matched")
    return Verdict(len(matched), None, matched, "triggers", tuple(notes), verdicts, supported)


def _from_lines(reply: str, total: int) -> Verdict | None:
    labels: dict[int, TriggerVerdict] = {}
    for found in _LINE.finditer(reply):
        number, label = int(found.group(1)), _label(found.group(2))
        if label is None or not 1 <= number <= total or number in labels:
            continue
        quoted = _QUOTED.search(found.group(3))
        labels[number] = TriggerVerdict(label, quoted.group(1) if quoted else "")
    if not labels:
        return None
    return _verdict(labels, total, ["per-trigger verdicts read from lines, not JSON"])


def _trigger_json(reply: str, total: int) -> Verdict | None:
    """The last JSON object of ``reply`` with a ``triggers`` key (nearly JSON is repaired)."""
    for text in reversed(_objects(reply)):
        data = _loads(text)
        if isinstance(data, dict):
            verdict = _from_json(data, total)
            if verdict is not None:
                return verdict
    return None


def answer_items(texts: Sequence[str], supported: Sequence[bool | None]) -> tuple[AnswerItem, ...]:
    """The answer's items with the judge's support flags; () unless it flagged every item."""
    if len(supported) != len(texts) or any(s is None for s in supported):
        return ()
    return tuple(AnswerItem(t, bool(s)) for t, s in zip(texts, supported, strict=True))
