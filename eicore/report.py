"""Tables of a run's recall, in the shape of the paper's tables."""

from __future__ import annotations

from typing import Any

from eicore.types import EMOTIONS

COLUMNS = ("Happy", "Angry", "Sad", "Excited", "Overall", "Macro")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def recall_row(recall: dict[str, Any]) -> list[str]:
    by_emotion = recall.get("by_emotion") or {}
    cells = [_pct(by_emotion.get(e)) for e in EMOTIONS]
    return cells + [_pct(recall.get("overall")), _pct(recall.get("macro"))]


def table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """A Markdown table: one row per (label, recall dict), values ×100 with two decimals."""
    body = [[label, *recall_row(recall)] for label, recall in rows]
    header = ["Run", *COLUMNS]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in body)])
