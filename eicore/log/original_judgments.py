"""``judgments.jsonl`` in EIBench's original shape: ``{"<image path>": "<judge text>"}`` per line.

Every parsed judgment's text holds ``{score: k/n}`` (k recalled, n ground-truth triggers) as its
first score, so the original ``get_scores.py`` reads our numbers; an unparsed or errored
judgment is written as ``[unparsed] <reply>`` / ``[error] <message>`` and our means exclude it,
where the original script would reuse the previous sample's score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from eicore.types import Judgment, SampleRecord

ORIGINAL_SCORE = re.compile(r"\{score: (\d+)/(\d+)\}")
"""The pattern the original scorer searches for."""


def original_text(judgment: Judgment) -> str:
    """The judgment as the original scorer reads it."""
    if judgment.status != "ok" or judgment.recalled is None:
        return f"[{judgment.status}] {judgment.raw}"
    found = ORIGINAL_SCORE.search(judgment.raw)
    if found and (int(found[1]), int(found[2])) == (judgment.recalled, judgment.total):
        return judgment.raw
    return f"{{score: {judgment.recalled}/{judgment.total}}}\n{judgment.raw}"


def original_rows(records: Sequence[SampleRecord], judge: str) -> list[dict[str, str]]:
    """One row per answered sample with a judgment by ``judge``, in the records' order."""
    rows = []
    for record in records:
        judgment = next((j for j in record.judgments if j.judge == judge), None)
        if record.status == "answered" and judgment is not None:
            rows.append({record.sample.image: original_text(judgment)})
    return rows


def judgment_files(records: Sequence[SampleRecord]) -> dict[str, Any]:
    """``judgments.jsonl`` for the first judge, ``judgments.<name>.jsonl`` for each other."""
    names = list(dict.fromkeys(j.judge for r in records for j in r.judgments))
    return {
        ("judgments.jsonl" if i == 0 else f"judgments.{name}.jsonl"): original_rows(records, name)
        for i, name in enumerate(names)
    }
