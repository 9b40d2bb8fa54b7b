"""The paper's tables from many runs: rows = model grouped by setting, columns = the basic
split's emotions, overall and macro recall and the complex split's recall, each cell one value
per judge ("A / B"); written as summary.md, summary.csv (with bootstrap CIs) and summary.tex,
with the plots beside them, and the runs that are not comparable flagged. For judges that flag
answer items, precision and F1 stand beside recall (a table of their own; csv columns)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from eicore.log import Recall
from eicore.log.directories import RunResult
from eicore.paper import tables
from eicore.report import run_tables
from eicore.run.provenance import digest, judge_ids
from eicore.run.settings import identity_tree
from eicore.types import EMOTIONS

SETTINGS = ("direct", "caption", "caption-text-only", "cot", "cfsa")
"""The paper's settings in the order its tables (and the setting-effect plot) show them."""

BASIC = (*EMOTIONS, "overall", "macro")
"""The basic split's cells of a row, in table order (run_tables.COLUMNS)."""

HEADER = ("Setting", "Model", *run_tables.COLUMNS, "Complex", "Failed", "Unparsed")

CSV_FIELDS = (
    "setting", "model", "split", "judge", "cell", "recall", "ci_low", "ci_high", "n",
    "n_failed", "n_unjudged", "complete", "status", "config_hash", "run_dir", "precision",
    "precision_ci_low", "precision_ci_high", "f1", "f1_ci_low", "f1_ci_high", "paper_recall",
    "note",
)  # fmt: skip

CFSA_MARK, CFSA_NOTE, CFSA_FOOTNOTE = (
    tables.CFSA_MARK,
    tables.CFSA_NOTE,
    tables.CFSA_FOOTNOTE,
)


@dataclass
class Row:
    """One table row: a model in a setting, with its run of each split."""

    setting: str
    model: str
    runs: dict[str, RunResult] = field(default_factory=dict)
    """split → run (``basic``, ``complex``)."""

    def judges(self) -> list[str]:
        return list(dict.fromkeys(j for run in self.runs.values() for j in _by_judge(run)))

    def recall(self, split: str, judge: str) -> Recall | None:
        run = self.runs.get(split)
        return _by_judge(run).get(judge) if run else None

    def measure(self, split: str, judge: str, key: str) -> Recall | None:
        """A judge's ``precision`` or ``f1`` on a split, in recall's shape (None: it has none)."""
        run = self.runs.get(split)
        if run is None or run.log is None:
            return None
        return run_tables.measure_by_judge(run.log, key).get(judge)

    def value(
        self, split: str, judge: str, cell: str, key: str = "recall"
    ) -> tuple[float | None, list[float] | None]:
        """A cell's recall (or ``key``: precision, f1) and bootstrap CI (``cell``: an emotion,
        ``overall`` or ``macro``)."""
        r = self.recall(split, judge) if key == "recall" else self.measure(split, judge, key)
        return r.value(cell) if r else (None, None)


@dataclass
class Summary:
    """What :func:`write_summary` wrote and found."""

    rows: list[Row]
    judges: list[str]
    warnings: list[str]
    """Why some runs are not comparable, and duplicated or unfinished runs."""
    failed: list[RunResult]
    """Runs without metrics (failed or unfinished jobs)."""
    markdown: str
    files: list[Path] = field(default_factory=list)


def _by_judge(run: RunResult | None) -> dict[str, Recall]:
    """Each judge's recall in the run; a lone recall that scored nothing (a run without
    judges) is none."""
    found = run.log.recall_by_judge if run and run.log else {}
    if len(found) == 1 and not next(iter(found.values())).n_scored and not run_judges(run):
        return {}
    return found


def run_judges(run: RunResult | None) -> list[str]:
    return [str(j.get("name")) for j in run.log.judges] if run and run.log else []


def _variant(run: RunResult) -> dict[str, Any]:
    """The run's result-deciding config without its split: runs alike here share a row. A
    copy of the run's data config inside a component (``model.data: ${data}``) counts as the
    run's data, split left out too."""
    tree = identity_tree(OmegaConf.create(run.config or {}))
    data = tree.get("data")

    def unsplit(node: Any) -> Any:
        if isinstance(node, dict):
            if data and node == data:
                return {k: v for k, v in node.items() if k != "split"}
            return {k: unsplit(v) for k, v in node.items()}
        return node

    return dict(unsplit(tree))


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """A config tree as dotted paths → values (as text)."""
    if isinstance(tree, dict) and tree:
        out: dict[str, str] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: str(tree)}


def _setting_order(setting: str) -> tuple[int, str]:
    return (SETTINGS.index(setting) if setting in SETTINGS else len(SETTINGS), setting)


def build_rows(runs: Sequence[RunResult]) -> tuple[list[Row], list[str]]:
    """Rows of the runs that have metrics, ordered by setting then model; and warnings about
    runs left out because another run of the same configuration came first."""
    groups: dict[tuple[str, str, str], Row] = {}
    variants: dict[tuple[str, str, str], dict[str, str]] = {}
    warnings = []
    for run in runs:
        if run.log is None:
            continue
        variant = _variant(run)
        key = (run.setting, run.model, digest(variant))
        row = groups.setdefault(key, Row(run.setting, run.model))
        variants[key] = flatten(variant)
        if run.split in row.runs:
            warnings.append(
                f"{run.path} repeats the configuration of {row.runs[run.split].path} "
                f"({run.split}); the summary uses the latter"
            )
            continue
        row.runs[run.split] = run
    _label_variants(groups, variants)
    rows = sorted(groups.values(), key=lambda r: (_setting_order(r.setting), r.model))
    return rows, warnings


def _label_variants(
    groups: dict[tuple[str, str, str], Row], variants: dict[tuple[str, str, str], dict[str, str]]
) -> None:
    """Rows of one model in one setting that differ in other settings get those in the label:
    ``echo (strategy.persona=none)``."""
    by_name: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for key in groups:
        by_name.setdefault(key[:2], []).append(key)
    for keys in by_name.values():
        if len(keys) < 2:
            continue
        paths = sorted({p for k in keys for p in variants[k]})
        differing = [p for p in paths if len({variants[k].get(p) for k in keys}) > 1]
        for key in keys:
            given = ", ".join(f"{p}={variants[key].get(p, '—')}" for p in differing)
            groups[key].model = f"{groups[key].model} ({given})"


def paper_recall(row: Row, split: str, judge: str, cell: str) -> float | None:
    """The paper's value (×100) of this cell under this judge, when the row follows the paper's
    protocol (:mod:`eicore.paper.tables`); else None."""
    run, recall = row.runs.get(split), row.recall(split, judge)
    if run is None or run.log is None or recall is None:
        return None
    setting = tables.paper_setting(run.config, run.source)
    column = tables.judge_presets(run.log.judges).get(judge)
    whole = cell in ("overall", "macro")
    scored = recall.n_scored if whole else recall.n_by_emotion.get(cell, 0)
    return tables.paper_value(split, setting, run.model, cell, column, scored)


def _with_paper(text: str, row: Row, split: str, judges: Sequence[str], cell: str) -> str:
    comparisons = [
        tables.delta_text(row.value(split, j, cell)[0], paper_recall(row, split, j, cell))
        for j in judges
    ]
    return tables.with_paper(text, comparisons)


def _cells(row: Row, judges: Sequence[str]) -> list[str]:
    basic = run_tables.judged_row([row.recall("basic", j) for j in judges])
    basic = [_with_paper(t, row, "basic", judges, c) for t, c in zip(basic, BASIC, strict=True)]
    complex_ = run_tables.judged_row([row.recall("complex", j) for j in judges])[4]
    complex_ = _with_paper(complex_, row, "complex", judges, "overall")
    failed = sum(r.log.completeness.n_failed for r in row.runs.values() if r.log)
    unparsed = [
        str(sum(r.n_unjudged for split in row.runs if (r := row.recall(split, j)))) for j in judges
    ]
    return [*basic, complex_, str(failed), " / ".join(unparsed)]


def table_rows(rows: Sequence[Row], judges: Sequence[str]) -> list[list[str]]:
    """Cells of every row, the setting named on the first row of its group only."""
    body = []
    previous = None
    for row in rows:
        label = row.model + ("" if all(r.complete for r in row.runs.values()) else " *")
        label += f" {CFSA_MARK}" if row.setting == "cfsa" else ""
        body.append([row.setting if row.setting != previous else "", label, *_cells(row, judges)])
        previous = row.setting
    return body


QUALITY_HEADER = ("Setting", "Model", "Split", "Judge", "Recall", "Precision", "F1")
QUALITY_NOTE = (
    "Overall ×100 with 95% bootstrap CIs, for judges that flag which answer items a trigger "
    "supports. Precision: supported items / items per answer; F1: per answer, of its recall "
    "and precision; both averaged over answers."
)


QUALITY_KEYS = ("recall", "precision", "f1")


def _with_ci(value: float | None, ci: list[float] | None) -> str:
    if value is None:
        return run_tables.pct(None)
    pct = run_tables.pct
    return pct(value) + (f" [{pct(ci[0])}, {pct(ci[1])}]" if ci else "")


def quality_rows(rows: Sequence[Row], judges: Sequence[str]) -> list[list[str]]:
    """Recall, precision and F1 (overall) per row, split and judge that has precision."""
    return [
        [row.setting, row.model, split, judge,
         *(_with_ci(*row.value(split, judge, "overall", key)) for key in QUALITY_KEYS)]
        for row, split, _ in _split_runs(rows)
        for judge in judges
        if row.measure(split, judge, "precision")
    ]  # fmt: skip


def _split_runs(rows: Sequence[Row]) -> Iterator[tuple[Row, str, RunResult]]:
    """Each row's run of each split, in the tables' order."""
    for row in rows:
        for split, run in sorted(row.runs.items()):
            yield row, split, run


PPI_HEADER = ("Setting", "Model", "Split", "Judge", "Judge recall", "PPI recall", "Labelled")
PPI_NOTE = (
    "Overall ×100. Prediction-powered inference: the judge's mean on the answers nobody "
    "labelled plus the mean human − judge difference on those labelled (`eicore view --judge-"
    "review`), with its 95% CI."
)


def ppi_rows(rows: Sequence[Row]) -> list[list[str]]:
    """PPI-corrected recall per row, split and judge of runs with judge-review labels."""
    from eicore.viewer.judge_review import run_ppi

    return [
        [row.setting, row.model, split, judge, run_tables.pct(found["judge_recall"]),
         _with_ci(found["recall"], found["ci"]),
         f"{found['n_labelled']} of {found['n_labelled'] + found['n_unlabelled']}"]
        for row, split, run in _split_runs(rows)
        for judge, found in run_ppi(run.path).items()
    ]  # fmt: skip


def comparability(runs: Sequence[RunResult]) -> list[str]:
    """Why the runs are not comparable: different data files, judges or eicore versions."""
    found: dict[str, dict[str, list[str]]] = {}

    def note(what: str, value: str, run: RunResult) -> None:
        found.setdefault(what, {}).setdefault(value, []).append(run.path.name)

    for run in runs:
        if run.log is None:
            continue
        p = run.provenance
        note("eicore version", str(p.eicore), run)
        for name, info in (p.data.get("files") or {}).items():
            note(f"data file {name} (sha256)", str(info.get("sha256")), run)
        ids = p.judges or judge_ids(run.log.judges)
        note("judges", ", ".join(sorted(j["name"] for j in ids)) or "none", run)
        for judge in ids:
            note(f"judge {judge['name']} (id)", str(judge["id"]), run)
    warnings = []
    for what, values in found.items():
        if len(values) > 1:
            listed = "; ".join(f"{v} in {', '.join(runs_)}" for v, runs_ in values.items())
            warnings.append(f"not comparable: {what} differs: {listed}")
    return warnings


def provenance_lines(runs: Sequence[RunResult]) -> list[str]:
    """What the runs were made with, each distinct value once."""
    seen: dict[str, dict[str, None]] = {}

    def add(what: str, value: str) -> None:
        seen.setdefault(what, {})[value] = None

    for run in runs:
        if run.log is None or run.log.provenance is None:
            continue
        p = run.log.provenance
        add("eicore", str(p.eicore))
        git = p.git
        add("git", f"{git['commit'][:12]}{' (dirty)' if git['dirty'] else ''}" if git else "—")
        for name, version in p.plugins.items():
            add("plugins", f"{name} {version}")
        for name, info in (p.data.get("files") or {}).items():
            add("data", f"{name} {str(info.get('sha256'))[:16]}")
        for judge in p.judges:
            prompt = judge.get("prompt_sha256")
            add("judges", f"{judge['id']}" + (f" prompt {prompt[:12]}" if prompt else ""))
        for path, seed in p.seeds.items():
            add("seeds", f"{path}={seed}")
    return [f"- {what}: {'; '.join(values)}" for what, values in seen.items()]


def to_markdown(
    summary_rows: Sequence[Row],
    judges: Sequence[str],
    runs: Sequence[RunResult],
    warnings: Sequence[str],
) -> str:
    """summary.md: the table, warnings, failed jobs, the runs listed, provenance."""
    lines = ["# EIBench summary", ""]
    lines.append(
        "Trigger recall ×100. Basic split: per emotion, Overall (sample-weighted, the paper's), "
        "Macro (mean of the emotions); Complex: the complex split's overall."
        + (f" Cells: {' / '.join(judges)}." if len(judges) > 1 else "")
        + " Failed: samples without an answer; Unparsed: answers a judge could not score"
        + (" (per judge)." if len(judges) > 1 else ".")
        + " `*`: an unfinished run (run the same command again to finish it)."
        + " Cells of the paper's protocol (paper judge preset, paper prompt, paper model) show"
        + " the paper's value and the difference: `(paper 54.37, −0.27)`."
    )
    lines += ["", run_tables.markdown(HEADER, table_rows(summary_rows, judges)), ""]
    if any(row.setting == "cfsa" for row in summary_rows):
        lines += [CFSA_FOOTNOTE, ""]
    quality = quality_rows(summary_rows, judges)
    if quality:
        lines += ["## Precision beside recall", "", QUALITY_NOTE, ""]
        lines += [run_tables.markdown(QUALITY_HEADER, quality), ""]
    corrected = ppi_rows(summary_rows)
    if corrected:
        lines += ["## Recall corrected by human labels (PPI)", "", PPI_NOTE, ""]
        lines += [run_tables.markdown(PPI_HEADER, corrected), ""]
    if warnings:
        lines += ["## Warnings", "", *(f"- {w}" for w in warnings), ""]
    failed = [r for r in runs if r.log is None]
    if failed:
        lines += ["## Jobs without results", ""]
        for run in failed:
            given = f" `{' '.join(run.overrides)}`" if run.overrides else ""
            lines.append(f"- FAILED `{run.path}`{given}: {run.error}")
        lines.append("")
    listed = [
        [row.setting, row.model, split, str(run.log.completeness.n_samples),
         "yes" if run.complete else "no", run.provenance.config_hash or "—", str(run.path)]
        for row in summary_rows for split, run in sorted(row.runs.items()) if run.log
    ]  # fmt: skip
    header = ["Setting", "Model", "Split", "Samples", "Complete", "Config", "Directory"]
    lines += ["## Runs", "", run_tables.markdown(header, listed), ""]
    lines += ["## Provenance", "", *provenance_lines(runs), ""]
    return "\n".join(lines)


def to_csv(rows: Sequence[Row], runs: Sequence[RunResult]) -> str:
    """One line per row, split, judge and cell: recall as a fraction with its bootstrap CI;
    one ``failed`` line per run without metrics."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        for split, run in sorted(row.runs.items()):
            for judge in row.judges():
                recall = row.recall(split, judge)
                for cell in (BASIC if split == "basic" else ("overall",)) if recall else ():
                    if row.value(split, judge, cell)[0] is not None:
                        writer.writerow(_csv_line(row, run, judge, cell))
    for run in runs:
        if run.log is None:
            writer.writerow(
                {
                    "setting": run.setting,
                    "model": run.model,
                    "split": run.split,
                    "status": "failed",
                    "complete": False,
                    "run_dir": str(run.path),
                }
            )
    return out.getvalue()


def _csv_line(row: Row, run: RunResult, judge: str, cell: str) -> dict[str, Any]:
    recall = row.recall(run.split, judge)
    value, ci = row.value(run.split, judge, cell)
    paper = paper_recall(row, run.split, judge, cell)
    extra: dict[str, str] = {}
    for key in ("precision", "f1"):
        measured, measured_ci = row.value(run.split, judge, cell, key)
        extra[key] = _num(measured)
        extra[f"{key}_ci_low"] = _num(measured_ci[0] if measured_ci else None)
        extra[f"{key}_ci_high"] = _num(measured_ci[1] if measured_ci else None)
    return {
        "setting": row.setting,
        "model": row.model,
        "split": run.split,
        "judge": judge,
        "cell": cell,
        "recall": _num(value),
        "ci_low": _num(ci[0] if ci else None),
        "ci_high": _num(ci[1] if ci else None),
        "n": recall.n(cell) if recall else None,
        "n_failed": run.log.completeness.n_failed if run.log else None,
        "n_unjudged": recall.n_unjudged if recall else None,
        "complete": run.complete,
        "status": "ok",
        "config_hash": run.provenance.config_hash or None,
        "run_dir": str(run.path),
        **extra,
        "paper_recall": _num(None if paper is None else paper / 100),
        "note": CFSA_NOTE if row.setting == "cfsa" else "",
    }


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
        "—": "--", "†": r"\dag{}", "−": "--"}  # fmt: skip


def tex_escape(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def to_tex(rows: Sequence[Row], judges: Sequence[str]) -> str:
    """A booktabs table: the setting on the first row of each group, groups ruled apart."""
    header = " & ".join(tex_escape(h) for h in HEADER[:-2]) + r" \\"
    lines = [
        "% eicore summary: trigger recall x100"
        + (f"; cells: {' / '.join(judges)}" if len(judges) > 1 else ""),
        r"\begin{tabular}{ll" + "r" * (len(HEADER) - 4) + "}",
        r"\toprule",
        header,
    ]
    for i, cells in enumerate(table_rows(rows, judges)):
        if cells[0] or i == 0:
            lines.append(r"\midrule")
        lines.append(" & ".join(tex_escape(c) for c in cells[:-2]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if any(row.setting == "cfsa" for row in rows):
        lines.append(r"\par\footnotesize " + tex_escape(CFSA_FOOTNOTE))
    lines.append("")
    quality = quality_rows(rows, judges)
    if quality:
        lines += ["% precision beside recall: overall x100 [95% CI]",
                  r"\begin{tabular}{llllrrr}", r"\toprule",
                  " & ".join(QUALITY_HEADER) + r" \\", r"\midrule"]  # fmt: skip
        lines += [" & ".join(tex_escape(c) for c in cells) + r" \\" for cells in quality]
        lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def summarise(runs: Sequence[RunResult]) -> Summary:
    """Rows, judges, warnings and the Markdown of ``runs`` (nothing written)."""
    rows, duplicates = build_rows(runs)
    judges = list(dict.fromkeys(j for row in rows for j in row.judges()))
    unfinished = [
        f"{run.path} is unfinished ({run.log.completeness.n_samples} samples so far)"
        for row in rows
        for run in row.runs.values()
        if run.log and not run.complete
    ]
    warnings = [*comparability(runs), *duplicates, *unfinished]
    failed = [r for r in runs if r.log is None]
    return Summary(rows, judges, warnings, failed, to_markdown(rows, judges, runs, warnings))


def write_summary(out_dir: Path, runs: Sequence[RunResult]) -> Summary:
    """summary.md, summary.csv, summary.tex, the plots (PNG and SVG) and report.html (the
    viewer) of ``runs`` in ``out_dir``: the one writer behind the sweep callback and
    ``eicore report``."""
    from eicore.report.plots import write_plots
    from eicore.viewer import write_report

    summary = summarise(runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {
        "summary.md": summary.markdown,
        "summary.csv": to_csv(summary.rows, runs),
        "summary.tex": to_tex(summary.rows, summary.judges),
    }
    for name, text in texts.items():
        (out_dir / name).write_text(text, encoding="utf-8")
        summary.files.append(out_dir / name)
    summary.files += write_plots(out_dir, summary.rows, summary.judges)
    finished = [run.log for run in runs if run.log is not None]
    summary.files.append(write_report(out_dir, finished))
    return summary
