"""Tables of a run's recall, in the shape of the paper's tables (one cell per judge: "A / B")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eicore.log import Recall, RunLog
from eicore.types import EMOTIONS

COLUMNS = ("Happy", "Angry", "Sad", "Excited", "Overall", "Macro")


def pct(value: float | None) -> str:
    """A recall as the paper prints it: ×100, two decimals (``—`` for none)."""
    return "—" if value is None else f"{100 * value:.2f}"


def recall_row(recall: Recall | None) -> list[str]:
    """The cells of one recall (``—`` for a run with none)."""
    if recall is None:
        return [pct(None)] * len(COLUMNS)
    cells = [pct(recall.by_emotion.get(e)) for e in EMOTIONS]
    return cells + [pct(recall.overall), pct(recall.macro)]


def judged_row(recalls: Sequence[Recall | None]) -> list[str]:
    """One row of cells, each the judges' values side by side: ``"54.37 / 52.20"`` (``—`` alone
    when no judge has a value, or no judge at all: a sweep run with ``~judge``)."""
    columns = zip(*(recall_row(r) for r in recalls or [None]), strict=True)
    return [" / ".join(v) if set(v) != {pct(None)} else pct(None) for v in columns]


def table(rows: Sequence[tuple[str, Recall | Sequence[Recall | None]]]) -> str:
    """A Markdown table: one row per (label, recall or one recall per judge), values ×100 with
    two decimals."""
    body = [
        [label, *(recall_row(r) if isinstance(r, Recall) else judged_row(r))] for label, r in rows
    ]
    return markdown(["Run", *COLUMNS], body)


def markdown(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A Markdown table with aligned columns."""
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def judges_caption(log: RunLog) -> str | None:
    """``"cells: semantic / gpt"`` when a run has several judges, else None."""
    names = list(log.recall_by_judge)
    return f"cells: {' / '.join(names)}" if len(names) > 1 else None


def run_table(label: str, log: RunLog, n_total: int) -> str:
    """The table of one run's recall, every judge side by side, with a caption naming them
    and how many of the ``n_total`` samples each judge scored."""
    by_judge = log.recall_by_judge
    lines = [table([(label, list(by_judge.values()))])]
    caption = judges_caption(log)
    if caption:
        lines.append(caption)
    for name, recall in by_judge.items():
        lines.append(f"scored by {name}: {recall.n_scored} of {n_total} samples")
    return "\n".join([*lines, *quality_lines(log)])


def measure_by_judge(log: RunLog, key: str) -> dict[str, Recall]:
    """Judge → ``precision`` or ``f1`` of a run (``<key>_by_judge`` of any metric, in recall's
    shape); empty when no judge flagged answer items."""
    for values in log.results.values():
        found = values.get(f"{key}_by_judge")
        if isinstance(found, Mapping):
            return {str(k): Recall.from_dict(v) for k, v in found.items()}
    return {}


def quality_lines(log: RunLog) -> list[str]:
    """Recall, precision and F1 (overall ×100) of each judge that flags answer items."""
    precision = measure_by_judge(log, "precision")
    f1 = measure_by_judge(log, "f1")
    recall = log.recall_by_judge
    return [
        f"{name}: recall {pct(recall[name].overall if name in recall else None)}, precision "
        f"{pct(p.overall)}, F1 {pct(f1[name].overall if name in f1 else None)}"
        for name, p in precision.items()
    ]
