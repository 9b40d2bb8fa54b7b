"""The paper's result tables as data (``results.csv`` beside this module: the README of EIBench
at the pinned commit, every cell, both judges), and the lookup that sets a run's cell beside the
paper's.

A run's cell is compared only when it is the paper's protocol: a paper judge preset
(``paper-llama3``, ``paper-gpt``), the paper's prompt (strategy ``paper`` with the script's own
persona) and a model whose preset names a paper row (``llava-1.5-13b``; a ``paper-`` prefix and
``-vllm``/``-hf`` suffixes aside). Anything else — eicore's own prompts, the caption and CFSA
settings (whose prompts the code does not hold), other judges — is never compared.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

CFSA_MARK = "†"
CFSA_NOTE = "same pipeline as the ground truth"
CFSA_FOOTNOTE = (
    f"{CFSA_MARK} CFSA: {CFSA_NOTE} — EIBench's ground truth was made with CFSA, so a CFSA "
    "row is not comparable with the other settings."
)
"""How every table (summary.md/.csv/.tex, report.html) marks a CFSA row."""

JUDGE_COLUMNS = {"paper-llama3": "llama3", "paper-gpt": "gpt"}
"""Judge preset → the paper's column ("LLaMA-3 / ChatGPT")."""

CELL_SIZES = {
    ("basic", "happy"): 91, ("basic", "angry"): 342, ("basic", "sad"): 462,
    ("basic", "excited"): 720, ("basic", "overall"): 1615, ("complex", "overall"): 50,
}  # fmt: skip
"""Samples behind each paper cell: a run's cell is compared only when it scored all of them
(a subset, or a cell with failed or unparsed samples, is not the paper's cell)."""

PAPER_STRATEGIES = {"paper-direct": "direct", "paper-cot": "cot"}
"""Strategy presets declared for scored predictions (``eicore score --strategy``) → setting."""


@dataclass(frozen=True)
class PaperCell:
    split: str
    setting: str
    model: str
    """eicore's model preset name for the row."""
    paper_model: str
    """The row's name in the paper."""
    cell: str
    values: Mapping[str, float]
    """Paper column (``llama3``, ``gpt``) → recall ×100 as printed."""


@cache
def paper_cells() -> dict[tuple[str, str, str, str], PaperCell]:
    """(split, setting, model, cell) → the paper's cell."""
    text = resources.files("eicore.paper").joinpath("results.csv").read_text(encoding="utf-8")
    cells = {}
    for row in csv.DictReader(text.splitlines()):
        values = {j: float(row[j]) for j in JUDGE_COLUMNS.values()}
        cell = PaperCell(row["split"], row["setting"], row["model"], row["paper_model"],
                         row["cell"], values)  # fmt: skip
        cells[(cell.split, cell.setting, cell.model, cell.cell)] = cell
    return cells


def model_key(model: str) -> str:
    """A model preset's paper row: ``paper-llava-1.5-13b`` and ``llava-1.5-13b-vllm`` are
    ``llava-1.5-13b``."""
    model = model.removeprefix("paper-")
    for suffix in ("-vllm", "-hf"):
        model = model.removesuffix(suffix)
    return model


def paper_setting(config: Mapping[str, Any] | None, source: Mapping[str, Any] | None) -> str | None:
    """The paper setting a run's answers were made in, when they follow the paper's prompt."""
    declared = ((source or {}).get("answered_by") or {}).get("strategy")
    if declared:
        return PAPER_STRATEGIES.get(str(declared))
    strategy = (config or {}).get("strategy") or {}
    if strategy.get("plugin") != "paper" or strategy.get("persona", "emotion_expert") != (
        "emotion_expert"
    ):
        return None
    return "cot" if strategy.get("cot") else "direct"


def judge_presets(judges: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Judge name in the run (its metrics.json ``judges``) → its paper column, for the judges
    that are paper presets."""
    out = {}
    for judge in judges:
        column = JUDGE_COLUMNS.get(str(judge.get("plugin")))
        if column:
            out[str(judge.get("name"))] = column
    return out


def paper_value(
    split: str, setting: str | None, model: str, cell: str, column: str | None, n_scored: int
) -> float | None:
    """The paper's value for a cell (×100), or None when the paper has no such cell or the run
    scored fewer samples for it than the paper's cell holds."""
    if setting is None or column is None or n_scored != CELL_SIZES.get((split, cell)):
        return None
    found = paper_cells().get((split, setting, model_key(model), cell))
    return found.values[column] if found else None


def delta_text(ours: float | None, paper: float | None) -> str | None:
    """``paper 54.37, −0.27`` for our ``ours`` (a fraction) beside the paper's (×100)."""
    if ours is None or paper is None:
        return None
    delta = round(100 * ours, 2) - paper
    sign = "−" if delta < -0.004 else "+" if delta > 0.004 else "±"
    return f"paper {paper:.2f}, {sign}{abs(delta):.2f}"


def with_paper(text: str, comparisons: list[str | None]) -> str:
    """A cell's text followed by its comparisons with the paper, if any."""
    given = [c for c in comparisons if c]
    return f"{text} ({'; '.join(given)})" if given else text
