"""Plots beside a summary (PNG and SVG): per-emotion recall of every model and setting, and
the effect of the setting (direct → caption → CoT → CFSA) per model; bootstrap CIs as error
bars. matplotlib (Agg) is imported only here, only when plotting."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eicore.report.summary import SETTINGS, Row
from eicore.types import EMOTIONS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CELLS = (*((("basic", e), e.capitalize()) for e in EMOTIONS), (("basic", "overall"), "Overall"),
         (("complex", "overall"), "Complex"))  # fmt: skip
"""(split, cell) → axis label of the per-emotion plot."""


def _errors(points: Sequence[tuple[float | None, list[float] | None]]) -> list[list[float]]:
    """matplotlib's asymmetric ``yerr`` (×100) of (value, CI) points; 0 where there is no CI."""
    low = [100 * (v - ci[0]) if v is not None and ci else 0.0 for v, ci in points]
    high = [100 * (ci[1] - v) if v is not None and ci else 0.0 for v, ci in points]
    return [low, high]


def _values(points: Sequence[tuple[float | None, list[float] | None]]) -> list[float]:
    return [100 * v if v is not None else float("nan") for v, _ in points]


def recall_by_emotion(rows: Sequence[Row], judges: Sequence[str]) -> Figure:
    """Grouped bars: one group per emotion (and overall, complex), one bar per row."""
    from matplotlib.figure import Figure

    cells = [c for c in CELLS if any(r.runs.get(c[0][0]) for r in rows)]
    fig = Figure(
        figsize=(max(6.0, 1.1 * len(cells) * max(1, len(rows)) ** 0.5 + 3), 3.6 * len(judges))
    )
    axes = fig.subplots(len(judges), 1, squeeze=False)[:, 0]
    width = 0.8 / max(1, len(rows))
    for ax, judge in zip(axes, judges, strict=True):
        for i, row in enumerate(rows):
            points = [row.value(split, judge, cell) for (split, cell), _ in cells]
            xs = [x - 0.4 + width * (i + 0.5) for x in range(len(cells))]
            ax.bar(xs, _values(points), width, yerr=_errors(points), capsize=2,
                   label=f"{row.setting} · {row.model}")  # fmt: skip
        ax.set_xticks(range(len(cells)), [label for _, label in cells])
        ax.set_ylabel("trigger recall (%)")
        ax.set_ylim(0, 100)
        ax.set_title(f"Recall by emotion — judge {judge}")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def setting_effect(rows: Sequence[Row], judges: Sequence[str]) -> Figure:
    """Overall recall per setting, one line per model (basic split; complex if no basic run)."""
    from matplotlib.figure import Figure

    split = "basic" if any("basic" in r.runs for r in rows) else "complex"
    present = {r.setting for r in rows if split in r.runs}
    settings = [s for s in SETTINGS if s in present] + sorted(present - set(SETTINGS))
    models = list(dict.fromkeys(r.model for r in rows if split in r.runs))
    fig = Figure(figsize=(max(5.0, 1.4 * len(settings) + 3), 3.4 * len(judges)))
    axes = fig.subplots(len(judges), 1, squeeze=False)[:, 0]
    for ax, judge in zip(axes, judges, strict=True):
        for model in models:
            by_setting = {r.setting: r for r in rows if r.model == model and split in r.runs}
            points: list[tuple[float | None, Any]] = [
                by_setting[s].value(split, judge, "overall") if s in by_setting else (None, None)
                for s in settings
            ]
            ax.errorbar(range(len(settings)), _values(points), yerr=_errors(points), marker="o",
                        capsize=3, label=model)  # fmt: skip
        ax.set_xticks(range(len(settings)), settings)
        ax.set_ylabel(f"{split} overall recall (%)")
        ax.set_ylim(0, 100)
        ax.set_title(f"Effect of the setting — judge {judge}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def write_plots(out_dir: Path, rows: Sequence[Row], judges: Sequence[str]) -> list[Path]:
    """``recall_by_emotion`` and ``setting_effect`` as PNG and SVG in ``out_dir``; nothing when
    no row has a recall."""
    if not rows or not judges:
        return []
    import matplotlib

    matplotlib.use("Agg")
    written = []
    for name, figure in (
        ("recall_by_emotion", recall_by_emotion(rows, judges)),
        ("setting_effect", setting_effect(rows, judges)),
    ):
        for suffix in (".png", ".svg"):
            path = out_dir / f"{name}{suffix}"
            figure.savefig(path, dpi=120, bbox_inches="tight", metadata=_metadata(suffix))
            written.append(path)
    return written


def _metadata(suffix: str) -> dict[str, Any]:
    """No creation date in the SVG, so the same runs give the same file."""
    return {"Date": None} if suffix == ".svg" else {}
