"""``report.html``: the summary table, plots and sample browser of one or more run directories."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from eicore.log import RunLog
from eicore.log import read as read_log
from eicore.paper import tables
from eicore.report.run_tables import COLUMNS
from eicore.run.store import write_atomically
from eicore.viewer.page import render_page
from eicore.viewer.runs import RunInfo, distinct_labels, run_info, summary_rows
from eicore.viewer.samples import sample_entries
from eicore.viewer.thumbnails import thumbnail_uris

REPORT_FILE = "report.html"


def plot_uris(folder: Path) -> list[dict[str, str]]:
    """The PNG plots in ``folder`` and ``folder/plots`` as ``{name, uri}`` data URIs."""
    paths = sorted([*folder.glob("*.png"), *folder.glob("plots/*.png")])
    return [
        {
            "name": p.stem,
            "uri": "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii"),
        }
        for p in paths
    ]


def image_root_of(runs: Sequence[RunInfo]) -> str | None:
    """The runs' ``data.image_root`` (the first one set, with a warning when they differ)."""
    roots = list(dict.fromkeys(r.image_root for r in runs if r.image_root))
    if len(roots) > 1:
        logger.warning(
            "runs have different image roots {}; showing images from {}", roots, roots[0]
        )
    return roots[0] if roots else None


def build_payload(
    logs: Sequence[RunLog],
    image_root: str | Path | None,
    thumbnails: bool,
    image_base: str | None = None,
    plots_folder: Path | None = None,
    made: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """The viewer's data for the runs of ``logs``: runs, summary rows, plots and samples.

    ``image_root``: where images are (default: the runs' ``data.image_root``);
    ``thumbnails``: embed a small JPEG of each image found there (``made``: those already
    made, by relative path; the others are made here);
    ``image_base``: the URL prefix full-size images are served from (``eicore view``).
    """
    runs = [run_info(log) for log in logs]
    labels = distinct_labels(runs)
    samples = sample_entries([log.samples for log in logs])
    image_root = image_root or image_root_of(runs)
    if thumbnails and image_root is not None:
        made = made or {}
        missing = [s["image"] for s in samples if s["image"] not in made]
        uris = {**made, **thumbnail_uris(image_root, missing)}
        for sample in samples:
            sample["thumb"] = uris[sample["image"]]
    return {
        "mode": "report",
        "runs": [
            {
                "label": label,
                "dir": run.name,
                "model": run.model,
                "strategy": run.strategy,
                "split": run.split,
            }
            for run, label in zip(runs, labels, strict=True)
        ],
        "columns": list(COLUMNS),
        "summary": summary_rows(runs, labels),
        "cfsaFootnote": tables.CFSA_FOOTNOTE,
        "plots": plot_uris(plots_folder) if plots_folder else [],
        "imageBase": image_base,
        "samples": samples,
    }


def report_title(logs: Sequence[RunLog]) -> str:
    if len(logs) == 1:
        return f"eicore run {logs[0].dir.name if logs[0].dir else ''}".rstrip()
    return f"eicore: {len(logs)} runs"


def write_report(
    out_dir: Path,
    runs: Sequence[RunLog | Path],
    thumbnails: Mapping[str, str | None] | None = None,
) -> Path:
    """Write ``out_dir/report.html``: one self-contained page for ``runs`` (logs in memory, or
    run directories read through the run log reader), with thumbnails from their image root
    when it is readable (``thumbnails``: those already made), and the PNG plots found in
    ``out_dir``."""
    logs = [r if isinstance(r, RunLog) else read_log(Path(r)) for r in runs]
    payload = build_payload(logs, None, True, plots_folder=Path(out_dir), made=thumbnails)
    path = Path(out_dir) / REPORT_FILE
    write_atomically(path, [render_page(payload, report_title(logs))])
    return path
