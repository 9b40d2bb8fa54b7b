"""Every known defect of the EIBench files is flagged, and docs/data.md lists every flag."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from eicore.datasets.eibench import EIBench, EIBenchConfig

DOCS = Path(__file__).resolve().parents[1] / "docs" / "data.md"


def test_the_flags_cover_the_known_defects(eibench_dir: Path) -> None:
    basic = EIBench(EIBenchConfig(root=str(eibench_dir))).load()
    complex_ = EIBench(EIBenchConfig(root=str(eibench_dir), split="complex")).load()
    counts = Counter(f for s in basic for f in s.flags)
    assert counts == {"stray-quote": 3, "trailing-period": 2, "empty-trigger-item": 2,
                      "question-is-refusal": 1}  # fmt: skip
    flagged = {s.id: s.flags for s in basic if s.flags}
    assert flagged["CAER-S/train/Angry/1074.png"] == ("question-is-refusal", "trailing-period")
    # the two empty trigger items: 7,424 numbered items, 7,422 triggers
    assert sum(len(s.triggers) for s in basic) == 7422
    assert all(s.truth.count("\n") + 1 == len(s.triggers) + ("empty-trigger-item" in s.flags)
               for s in basic)  # fmt: skip
    typos = [s.question for s in complex_ if "typo" in s.flags]
    assert len(typos) == 13 and Counter(f for s in complex_ for f in s.flags) == {"typo": 13}
    assert any("the bay in" in q for q in typos) and any("may caused" in q for q in typos)


def test_docs_list_every_flag() -> None:
    source = (Path(__file__).resolve().parents[1] / "eicore/datasets/samples.py").read_text()
    flags = set(re.findall(r'flags\.append\("([a-z-]+)"\)', source))
    assert flags == {"question-is-refusal", "stray-quote", "trailing-period", "typo",
                     "empty-trigger-item"}  # fmt: skip
    text = DOCS.read_text(encoding="utf-8")
    for flag in flags:
        assert f"`{flag}`" in text, flag
