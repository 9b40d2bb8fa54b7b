"""``eicore report``: the same summary and plots from any mix of run and sweep directories,
failed jobs listed, runs that are not comparable flagged, bad input named."""

from __future__ import annotations

import csv
import json
import shutil
from importlib.metadata import version
from pathlib import Path

from eicore_test_support import CLI, echo_args, only_run_dir, read_json

from eicore.log.directories import RunResult
from eicore.log.schema import from_summary
from eicore.report.summary import build_rows


def test_report_over_a_sweep_and_single_runs(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    # a sweep whose complex job fails: the complex split has no emotions to select
    sweep_args = echo_args(
        eibench_dir,
        tmp_path / "a",
        "data.emotions=[angry]",
        "data.limit=2",
        "data.split=basic,complex",
    )
    cli.run(*sweep_args, flags=["-m"], expect=1)  # a failed job: the sweep exits 1 (issue 15)
    sweep = tmp_path / "a" / "sweeps"
    assert "FAILED" in (sweep / "summary.md").read_text(encoding="utf-8")
    # a single run judged differently, and a copy of a run made by "another eicore version"
    cli.run(*echo_args(eibench_dir, tmp_path / "b", "data.limit=2", "judge.min_length=4"))
    single = only_run_dir(tmp_path / "b")
    older = tmp_path / "c" / "old-run"
    shutil.copytree(single, older)
    metrics = read_json(older / "metrics.json")
    metrics["provenance"]["eicore"] = "0.0.9"
    (older / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")

    out = tmp_path / "report"
    result = cli("report", str(sweep), str(single), str(older), "--out", str(out))
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert result.stdout.strip() == md.strip()
    assert "| direct  | echo (data.emotions=['angry'], judge.min_length=5) |" in md
    assert "echo (data.emotions=[], judge.min_length=4)" in md
    assert "not comparable: judge keyword (id) differs" in md
    assert f"not comparable: eicore version differs: {version('eicore')}" in md
    assert "0.0.9 in old-run" in md
    assert f"repeats the configuration of {single}" in md  # the copy is the same config
    assert "## Jobs without results" in md and "data.split=complex" in md
    lines = list(csv.DictReader((out / "summary.csv").open(encoding="utf-8")))
    assert [line["split"] for line in lines if line["status"] == "failed"] == ["complex"]
    assert {p.name for p in out.iterdir()} >= {
        "summary.md", "summary.csv", "summary.tex", "recall_by_emotion.png",
        "recall_by_emotion.svg", "setting_effect.png", "setting_effect.svg",
    }  # fmt: skip

    # the same directories give the same summary again
    cli("report", str(sweep), str(single), str(older), "--out", str(out))
    assert (out / "summary.md").read_text(encoding="utf-8") == md


def test_bad_input_is_named(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    assert "--out" in cli("report", str(tmp_path), str(tmp_path), expect=2).stderr
    missing = cli("report", str(tmp_path / "nowhere"), expect=2)
    assert f"{tmp_path / 'nowhere'}: no such directory" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = cli("report", str(tmp_path / "empty"), expect=2)
    assert "neither a run directory nor a sweep directory" in empty.stderr
    cli.run(*echo_args(eibench_dir, tmp_path / "runs", "data.limit=1"))
    run = only_run_dir(tmp_path / "runs")
    (run / "metrics.json").write_text('{\n  "complete": true,\n  oops\n}', encoding="utf-8")
    broken = cli("report", str(run), expect=2)
    assert f"{run / 'metrics.json'}, line 3: malformed JSON" in broken.stderr


def test_a_component_holding_the_runs_data_shares_one_row_across_splits() -> None:
    """question-prior's ``model.data: ${data}`` follows the split: basic and complex are one row."""

    def run(split: str, persona: str = "none") -> RunResult:
        data = {"plugin": "eibench", "split": split, "root": "/data"}
        config = {
            "data": data,
            "model": {"plugin": "question-prior", "data": dict(data)},
            "strategy": {"plugin": "direct", "persona": persona},
        }
        recall = {"judge": "semantic", "overall": 0.1, "n_scored": 3}
        log = from_summary({"recall": recall})
        return RunResult(Path(f"/runs/{split}-{persona}"), config, log)

    rows, warnings = build_rows([run("basic"), run("complex")])
    assert [(r.model, sorted(r.runs)) for r in rows] == [("question-prior", ["basic", "complex"])]
    assert warnings == []
    rows, _ = build_rows([run("basic"), run("basic", "expert")])  # another persona: two rows
    assert sorted(r.model for r in rows) == [
        "question-prior (strategy.persona=expert)",
        "question-prior (strategy.persona=none)",
    ]
