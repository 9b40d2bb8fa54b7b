"""The paper's result tables shipped as data, checked against the README of the pinned commit,
and ``eicore report`` setting a paper-protocol cell beside the paper's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eicore_test_support import CLI, read_json

from eicore.datasets.samples import load_basic
from eicore.paper import tables
from eicore.testing.fake_api import FakeAPI

README = Path(__file__).resolve().parents[1] / ".." / "shared" / "eibench-code" / "README.md"
needs_readme = pytest.mark.skipif(not README.is_file(), reason="no eibench-code README")


def readme_cells() -> list[tuple[str, str, float, float]]:
    """(table, row name, LLaMA-3 value, ChatGPT value) of every numeric cell, in order."""
    cells, table = [], None
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            table = "basic" if "Basic" in line else "complex"
        if table and line.startswith("| ") and "/" in line and not line.startswith("| **"):
            name, *values = [c.strip() for c in line.strip("|").split("|")]
            for value in values:
                a, b = re.sub(r"[*_]", "", value).split("/")
                cells.append((table, name, float(a), float(b)))
    return cells


@needs_readme
def test_every_readme_cell_is_in_the_data_in_order() -> None:
    shipped = [
        (c.split, c.paper_model, c.values["llama3"], c.values["gpt"])
        for c in tables.paper_cells().values()
    ]
    assert shipped == readme_cells()
    assert len(shipped) == 31 * 5 + 13


def test_lookup_and_delta() -> None:
    value = tables.paper_value
    assert value("basic", "direct", "paper-llava-1.5-13b", "overall", "llama3", 1615) == 54.37
    assert value("basic", "direct", "llava-1.5-13b-vllm", "overall", "gpt", 1615) == 52.20
    assert value("basic", "direct", "llava-1.5-13b", "happy", "gpt", 91) == 57.52
    assert value("complex", "direct", "gpt-4o", "overall", "gpt", 50) == 39.57
    assert value("basic", "cfsa", "llava-next-34b", "overall", "gpt", 1615) == 68.04
    assert value("basic", None, "llava-1.5-13b", "overall", "gpt", 1615) is None
    assert value("basic", "direct", "llava-1.5-13b", "overall", None, 1615) is None
    assert value("basic", "direct", "echo", "overall", "gpt", 1615) is None
    assert value("basic", "direct", "llava-1.5-13b", "overall", "gpt", 91) is None  # a subset
    assert tables.delta_text(0.5410, 54.37) == "paper 54.37, −0.27"
    assert tables.delta_text(0.5489, 52.20) == "paper 52.20, +2.69"


def test_only_the_paper_protocol_is_compared() -> None:
    paper = {"strategy": {"plugin": "paper", "persona": "emotion_expert", "cot": False}}
    assert tables.paper_setting(paper, None) == "direct"
    cot = {"strategy": {**paper["strategy"], "cot": True}}
    assert tables.paper_setting(cot, None) == "cot"
    ablated = {"strategy": {**paper["strategy"], "persona": "none"}}
    assert tables.paper_setting(ablated, None) is None
    assert tables.paper_setting({"strategy": {"plugin": "direct"}}, None) is None
    declared = {"answered_by": {"strategy": "paper-direct"}}
    assert tables.paper_setting(None, declared) == "direct"
    assert tables.paper_setting(None, {"answered_by": {"strategy": "direct"}}) is None
    judges = [{"name": "j1", "plugin": "paper-gpt"}, {"name": "s", "plugin": "llm"}]
    assert tables.judge_presets(judges) == {"j1": "gpt"}


@needs_readme
def test_report_sets_a_scored_predictions_cell_beside_the_papers(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    samples = load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json")
    happy = [s for s in samples if s.emotion == "happy"]
    predictions = tmp_path / "llava13b_user.jsonl"
    predictions.write_text("".join(json.dumps({s.image: s.triggers[0]}) + "\n" for s in happy))
    with FakeAPI(answer="Two of them. {score: 2/3}") as fake:
        args = [
            "--predictions", str(predictions), "--split", "basic", f"--data-root={eibench_dir}",
            "--model", "llava-1.5-13b", "--strategy", "paper-direct",
            f"--out={tmp_path / 'scored'}",
            "judge=paper-llama3", f"paper.root={README.parent}", "data.emotions=[happy]",
            f"judge.model.base_url={fake.url}/v1", "judge.backoff_s=0",
        ]  # fmt: skip
        cli("score", *args)
        sent = fake.requests
    assert len(sent) == len(happy)
    (out,) = (tmp_path / "scored").iterdir()
    metrics = read_json(out / "metrics.json")
    happy_recall = metrics["recall"]["by_emotion"]["happy"]
    expected = sum(min(2, len(s.triggers)) / len(s.triggers) for s in happy) / len(happy)
    assert happy_recall == pytest.approx(expected)
    report = cli("report", str(out), f"--out={tmp_path / 'report'}").stdout
    delta = round(100 * happy_recall, 2) - 59.01
    sign = "−" if delta < 0 else "+"
    assert f"{100 * happy_recall:.2f} (paper 59.01, {sign}{abs(delta):.2f})" in report
    row = next(line for line in report.splitlines() if line.startswith("| ?") or "59.01" in line)
    print(row)
    assert row.count("(paper ") == 1  # happy only: the overall of a subset is not the paper's
    csv = (tmp_path / "report" / "summary.csv").read_text(encoding="utf-8")
    assert ",0.5901," in csv
    # the same answers under a non-paper strategy are never compared
    args[args.index("paper-direct")] = "direct"
    args[args.index(f"--out={tmp_path / 'scored'}")] = f"--out={tmp_path / 'ours'}"
    with FakeAPI(answer="Two of them. {score: 2/3}") as fake:
        args[args.index(next(a for a in args if a.startswith("judge.model.base_url")))] = (
            f"judge.model.base_url={fake.url}/v1"
        )
        cli("score", *args)
    (ours,) = (tmp_path / "ours").iterdir()
    assert "(paper 59.01" not in cli("report", str(ours), f"--out={tmp_path / 'r2'}").stdout
