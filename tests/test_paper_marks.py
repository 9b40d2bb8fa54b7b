"""CFSA rows are marked "same pipeline as the ground truth" in every table eicore writes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from eicore.log.directories import collect
from eicore.paper.tables import CFSA_NOTE
from eicore.report.summary import write_summary
from eicore.viewer.page import decode_payload


def fake_run(root: Path, strategy: str) -> Path:
    run = root / f"echo__{strategy}"
    run.mkdir(parents=True)
    config = {"data": {"split": "basic"}, "model": {"plugin": "echo"},
              "strategy": {"plugin": strategy}}  # fmt: skip
    (run / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    recall = {"judge": "semantic", "overall": 0.5, "macro": 0.5, "n_scored": 2, "n_unjudged": 0,
              "by_emotion": {"happy": 0.5}, "n_by_emotion": {"happy": 2}}  # fmt: skip
    metrics = {"n_samples": 2, "n_failed": 0, "complete": True, "recall": recall,
               "provenance": {"choices": {"model": "echo", "strategy": strategy}}}  # fmt: skip
    (run / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (run / "records.jsonl").write_text("", encoding="utf-8")
    return run


def test_cfsa_rows_are_marked_in_md_csv_tex_and_html(tmp_path: Path) -> None:
    runs = [fake_run(tmp_path / "runs", "direct"), fake_run(tmp_path / "runs", "cfsa")]
    summary = write_summary(tmp_path / "out", collect(runs))
    md = summary.markdown
    cfsa_row = next(line for line in md.splitlines() if line.startswith("| cfsa"))
    direct_row = next(line for line in md.splitlines() if line.startswith("| direct"))
    assert "echo †" in cfsa_row and "†" not in direct_row
    assert f"† CFSA: {CFSA_NOTE}" in md
    csv = (tmp_path / "out" / "summary.csv").read_text(encoding="utf-8").splitlines()
    assert all(line.endswith(CFSA_NOTE) == line.startswith("cfsa,") for line in csv[1:])
    tex = (tmp_path / "out" / "summary.tex").read_text(encoding="utf-8")
    assert r"echo \dag{}" in tex and r"\dag{} CFSA: same pipeline as the ground truth" in tex
    data = decode_payload((tmp_path / "out" / "report.html").read_text(encoding="utf-8"))
    notes = sorted(str(row["note"]) for row in data["summary"])
    assert notes == ["None", CFSA_NOTE]
    assert data["cfsaFootnote"].startswith(f"† CFSA: {CFSA_NOTE}")


def test_no_footnote_without_a_cfsa_row(tmp_path: Path) -> None:
    summary = write_summary(tmp_path / "out", collect([fake_run(tmp_path / "runs", "direct")]))
    assert "CFSA" not in summary.markdown
    assert "dag" not in (tmp_path / "out" / "summary.tex").read_text(encoding="utf-8")
