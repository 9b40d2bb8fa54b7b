"""Reading an LLM judge's verdict: ``{score: k/n}`` in any case, spacing or brackets, or the
structured form ``{"matched": [1, 3]}``.

Policy (recorded in metrics.json as :data:`PARSE_POLICY`): the structured form wins when present;
else the *last* score in the reply that is not an echo of the instruction; no score → None. A
score of nothing (``{score: 0/0}``) is no verdict. An echo is a score whose surrounding text is
the instruction's around one of its examples, or one repeating an example's numbers after
another score of the reply (unless its total is the sample's own).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

PARSE_POLICY = (
    'structured {"matched": [i, ...]} (1-based) preferred; else the last "score: k/n" '
    "(case, spacing, brackets, markdown and 'k out of n' tolerated; n > 0) not echoed from the "
    "instruction; correct clipped to [0, true total]; total taken from the ground truth"
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
    form: Literal["json", "score"]
    notes: tuple[str, ...] = ()


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
        return None
    last = scores[-1]
    notes = (f"{len(scores)} scores in the reply; the last was taken",) if len(scores) > 1 else ()
    return Verdict(int(last.group(1)), int(last.group(2)), (), "score", notes)
