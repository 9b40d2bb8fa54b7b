"""``answer_items``: how many causes the answers list, overall and per emotion."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from eicore import Metric, SampleRecord


@dataclass
class AnswerItemsConfig:
    item: str = r"^\s*\d+\s*[.)]"
    """A regular expression matching the start of a listed item (a line like ``2.`` or ``2)``)."""


class AnswerItems(Metric):
    config: AnswerItemsConfig

    def compute(self, records: Sequence[SampleRecord]) -> dict[str, Any]:
        item = re.compile(self.config.item, re.MULTILINE)
        counts: dict[str, list[int]] = defaultdict(list)
        for record in records:
            if record.status == "answered" and record.response is not None:
                n = len(item.findall(record.response.text))
                counts[record.sample.emotion or "unknown"].append(n)
        every = [n for ns in counts.values() for n in ns]
        return {
            "answer_items": {
                "mean": fmean(every) if every else None,
                "n_answers": len(every),
                "by_emotion": {emotion: fmean(ns) for emotion, ns in sorted(counts.items())},
            }
        }
