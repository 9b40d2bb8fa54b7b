"""Judging through the command line: an LLM judge, several judges side by side, re-scoring."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eicore_test_support import (
    CLI,
    echo_args,
    keyword_recalled,
    only_run_dir,
    read_json,
    read_jsonl,
)

from eicore.datasets.samples import load_basic, load_complex
from eicore.log import Recall
from eicore.report.run_tables import table

LLM_JUDGE = (
    "+judge@judges.gpt=llm",
    "+model@judges.gpt.model=scripted",
    "judges.gpt.form=score",
    "++judges.gpt.model.replies={score: 'Two are named.\n{score: 2/3}'}",
    "judges.gpt.backoff_s=0",
)
"""A second judge: the ``llm`` judge on the scripted model, always replying 2/3."""


def test_an_llm_judge_on_any_registered_model(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "judge.jsonl"
    judge = (
        "data.limit=4",
        "judge=llm",
        "judge.form=score",
        "+model@judge.model=scripted",
        "++judge.model.replies={score: 'Two of them: {score: 2/3}'}",
        f"++judge.model.log={log}",
    )
    cli.run(*echo_args(eibench_dir, tmp_path / "runs", *judge))
    run_dir = only_run_dir(tmp_path / "runs")
    records = read_jsonl(run_dir / "records.jsonl")
    for record in records:
        (judgment,) = record["judgments"]
        total = len(record["sample"]["triggers"])
        assert (judgment["judge"], judgment["recalled"], judgment["total"]) == ("llm", 2, total)
        assert ("stated total 3" in judgment["raw"]) == (total != 3)
    metrics = read_json(run_dir / "metrics.json")
    expected = sum(2 / len(r["sample"]["triggers"]) for r in records) / len(records)
    assert metrics["recall"]["overall"] == pytest.approx(expected)
    (described,) = metrics["judges"]
    assert described["model"]["plugin"] == "scripted" and described["plugin"] == "llm"
    assert len(described["prompt_template_sha256"]) == 64 and described["parse_policy"]
    # the judge's calls went through the call cache: a second run asks the judge nothing new
    assert len(read_jsonl(log)) == 4
    cli.run(*echo_args(eibench_dir, tmp_path / "again", *judge))
    again = read_json(only_run_dir(tmp_path / "again") / "metrics.json")
    assert again["recall"] == metrics["recall"] and len(read_jsonl(log)) == 4


def test_two_judges_side_by_side(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    result = cli.run(*echo_args(eibench_dir, tmp_path / "runs", "data.limit=5", *LLM_JUDGE))
    run_dir = only_run_dir(tmp_path / "runs")
    metrics = read_json(run_dir / "metrics.json")
    assert [j["name"] for j in metrics["judges"]] == ["keyword", "gpt"]
    assert list(metrics["recall_by_judge"]) == ["keyword", "gpt"]
    assert metrics["recall"] == metrics["recall_by_judge"]["keyword"]  # the first judge
    records = read_jsonl(run_dir / "records.jsonl")
    keyword = [
        len(keyword_recalled(r["response"]["text"], r["sample"]["triggers"]))
        / len(r["sample"]["triggers"])
        for r in records
    ]
    gpt = [2 / len(r["sample"]["triggers"]) for r in records]
    assert metrics["recall_by_judge"]["keyword"]["overall"] == pytest.approx(sum(keyword) / 5)
    assert metrics["recall_by_judge"]["gpt"]["overall"] == pytest.approx(sum(gpt) / 5)
    (pair,) = metrics["judge_agreement"]
    assert pair["judges"] == ["keyword", "gpt"] and pair["n"] == 5
    assert pair["mean_abs_diff"] == pytest.approx(
        sum(abs(k - g) for k, g in zip(keyword, gpt, strict=True)) / 5
    )
    lo, hi = metrics["recall_by_judge"]["gpt"]["ci"]
    assert lo <= sum(gpt) / 5 <= hi
    both = f"{100 * sum(keyword) / 5:.2f} / {100 * sum(gpt) / 5:.2f}"
    assert both in result.stdout and "cells: keyword / gpt" in result.stdout
    assert "scored by gpt: 5 of 5 samples" in result.stdout


def test_judges_with_one_name_are_refused(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    twice = "+judge@judges.keyword=keyword"
    args = echo_args(eibench_dir, tmp_path / "runs", "data.limit=1", twice)
    result = cli.run(*args, expect=2)
    assert "judge names must differ" in result.stderr and "Traceback" not in result.stderr


def test_table_cells_hold_one_value_per_judge() -> None:
    a = Recall("a", 0.5, 0.25, {"happy": 0.5})
    b = Recall("b", 0.125, None, {"happy": 0.75})
    _, _, row = table([("run", [a, b])]).splitlines()
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["run", "50.00 / 75.00", "—", "—", "—", "50.00 / 12.50", "25.00 / —"]
    assert table([("run", a)]).splitlines()[2].count("/") == 0


def original_get_scores(lines: list[dict[str, str]], totals: dict[str, int]) -> dict[str, float]:
    """EIBench's get_scores.py as PROTOCOL.md describes it: the first ``{score: k/n}`` of each
    judge text, k over the sample's trigger count, categories by path substrings, plain means."""
    categories: dict[str, list[float]] = {"Happy": [], "Angry": [], "sad": [], "excit": []}
    every = []
    for line in lines:
        ((path, text),) = line.items()
        found = re.search(r"\{score: (\d+)/\d+\}", text)
        assert found, text
        score = int(found.group(1)) / totals[path]
        every.append(score)
        for key, scores in categories.items():
            if key in path:
                scores.append(score)
    means = {key: sum(v) / len(v) for key, v in categories.items() if v}
    return {**means, "overall": sum(every) / len(every)}


OUR_NAMES = {"Happy": "happy", "Angry": "angry", "sad": "sad", "excit": "excited"}


def test_judgments_files_agree_with_the_original_scorer(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    odd = "++judges.gpt.model.replies={score: 'Two, I think.\n{Score: 2 / 3}'}"
    cli.run(*echo_args(eibench_dir, tmp_path / "runs", "data.shard=0/60", *LLM_JUDGE[:-2], odd))
    run_dir = only_run_dir(tmp_path / "runs")
    metrics = read_json(run_dir / "metrics.json")
    records = read_jsonl(run_dir / "records.jsonl")
    totals = {r["sample"]["image"]: len(r["sample"]["triggers"]) for r in records}
    for name, file in (("keyword", "judgments.jsonl"), ("gpt", "judgments.gpt.jsonl")):
        recall = metrics["recall_by_judge"][name]
        assert recall["n_unjudged"] == 0 and set(recall["by_emotion"]) == set(OUR_NAMES.values())
        original = original_get_scores(read_jsonl(run_dir / file), totals)
        assert original["overall"] == pytest.approx(recall["overall"])
        for key, ours in OUR_NAMES.items():
            assert original[key] == pytest.approx(recall["by_emotion"][ours])


def test_score_a_run_with_another_judge_without_calling_its_model(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "echo.jsonl"
    cli.run(*echo_args(eibench_dir, tmp_path / "runs", "data.limit=4", f"model.log={log}"))
    run_dir = only_run_dir(tmp_path / "runs")
    before = read_json(run_dir / "metrics.json")
    calls = log.read_text()
    result = cli("score", str(run_dir), *LLM_JUDGE)
    (out,) = (run_dir / "scores").iterdir()
    assert out.name.startswith("gpt__") and str(out) in result.stdout
    assert log.read_text() == calls  # the answering model was not asked again
    assert read_json(run_dir / "metrics.json") == before  # the run's own results are untouched
    scored = read_json(out / "metrics.json")
    records = read_jsonl(run_dir / "records.jsonl")
    expected = sum(2 / len(r["sample"]["triggers"]) for r in records) / len(records)
    assert list(scored["recall_by_judge"]) == ["gpt"]
    assert scored["recall"]["overall"] == pytest.approx(expected)
    rescored = read_jsonl(out / "records.jsonl")
    assert [r["response"] for r in rescored] == [r["response"] for r in records]
    assert "scored by gpt: 4 of 4 samples" in result.stdout
    # no judge given: the run's own judges, reproducing the run's numbers
    cli("score", str(run_dir), "metrics=[trigger_recall,coherence]")
    own = next(p for p in (run_dir / "scores").iterdir() if p.name.startswith("keyword__"))
    rescored = read_json(own / "metrics.json")
    assert rescored["recall"] == before["recall"]
    assert (
        rescored["answer_length"]["mean_words"] > 0 and "n_single_sentence" in rescored["coherence"]
    )


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_score_basic_predictions_reports_what_does_not_line_up(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    samples = load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json")
    a, b, c, d = samples[:4]
    rows = [
        {a.image: a.triggers[0]},  # recalls at least its first trigger
        {b.image: "nothing relevant"},
        {c.image: "first answer"},
        {c.image: "second answer"},  # c duplicated: neither is scored
        {"elsewhere/x.png": "an image the split does not have"},
    ]
    predictions = write_jsonl(tmp_path / "preds.jsonl", rows)
    args = ["--predictions", str(predictions), "--split", "basic", "--data-root", str(eibench_dir)]
    result = cli("score", *args, "judge=keyword")
    assert f"scored by keyword: 2 of {len(samples)} samples" in result.stdout
    assert "INCOMPLETE" in result.stdout
    (out,) = (tmp_path / "preds.scores").iterdir()
    metrics = read_json(out / "metrics.json")
    found = metrics["source"]["predictions"]
    assert (found["lines"], found["paired"]) == (5, 2)
    assert found["duplicates"] == [c.image] and found["unknown"] == ["elsewhere/x.png"]
    assert d.id in found["missing"] and c.id not in found["missing"]
    assert len(found["missing"]) == len(samples) - 3
    assert metrics["complete"] is False and metrics["recall"]["n_scored"] == 2
    expected = [
        len(keyword_recalled(r[s.image], s.triggers)) / len(s.triggers)
        for r, s in zip(rows[:2], (a, b), strict=True)
    ]
    assert metrics["recall"]["overall"] == pytest.approx(sum(expected) / 2)
    assert [next(iter(r)) for r in read_jsonl(out / "judgments.jsonl")] == [a.image, b.image]


def test_score_complex_predictions_in_line_order(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    samples = load_complex(eibench_dir / "ec_complex.jsonl")
    rows = [{s.image: s.triggers[-1]} for s in samples]
    predictions = write_jsonl(tmp_path / "complex.jsonl", rows)
    args = ["--predictions", str(predictions), "--split", "complex", f"--data-root={eibench_dir}"]
    result = cli("score", *args, "judge=keyword", f"--out={tmp_path / 'out'}")
    assert f"scored by keyword: {len(samples)} of {len(samples)} samples" in result.stdout
    (out,) = (tmp_path / "out").iterdir()
    records = read_jsonl(out / "records.jsonl")
    assert [r["sample"]["id"] for r in records] == [s.id for s in samples]
    texts = [r["response"]["text"] for r in records]
    assert texts == [s.triggers[-1] for s in samples]


def test_complex_predictions_that_do_not_line_up_are_refused_naming_the_line(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    samples = load_complex(eibench_dir / "ec_complex.jsonl")
    moved = [{s.image: "an answer"} for s in samples]
    other = next(s.image for s in samples if s.image != samples[2].image)
    moved[2] = {other: "an answer to another question"}
    short = [{s.image: "an answer"} for s in samples[:-1]]
    longer = [*({s.image: "an answer"} for s in samples), {samples[0].image: "one too many"}]
    for name, rows, line in (("moved", moved, 3), ("short", short, 50), ("long", longer, 51)):
        predictions = write_jsonl(tmp_path / f"{name}.jsonl", rows)
        args = ["--predictions", str(predictions), "--split", "complex",
                f"--data-root={eibench_dir}", "judge=keyword",
                f"--out={tmp_path / name}"]  # fmt: skip
        result = cli("score", *args, expect=2)
        assert f"{predictions}, line {line}:" in result.stderr, name
        assert "Traceback" not in result.stderr
        assert not (tmp_path / name).exists()  # nothing scored


def test_complex_predictions_keyed_by_image_and_question(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    samples = load_complex(eibench_dir / "ec_complex.jsonl")
    rows = [{s.image: {s.question: s.triggers[0]}} for s in reversed(samples[:5])]
    predictions = write_jsonl(tmp_path / "nested.jsonl", rows)
    args = ["--predictions", str(predictions), "--split", "complex", f"--data-root={eibench_dir}"]
    result = cli("score", *args, "judge=keyword", f"--out={tmp_path / 'out'}")
    assert f"scored by keyword: 5 of {len(samples)} samples" in result.stdout
    (out,) = (tmp_path / "out").iterdir()
    found = read_json(out / "metrics.json")["source"]["predictions"]
    assert found["missing"] == [s.id for s in samples[5:]]
    records = read_jsonl(out / "records.jsonl")
    assert {r["sample"]["id"]: r["response"]["text"] for r in records} == {
        s.id: s.triggers[0] for s in samples[:5]
    }
    unknown = write_jsonl(tmp_path / "unknown.jsonl", [{samples[0].image: {"Why?": "x"}}])
    args[1] = str(unknown)
    result = cli("score", *args, "judge=keyword", expect=2)
    assert f"{unknown}, line 1:" in result.stderr and "not a question of the data" in result.stderr


def test_score_needs_a_source_and_a_judge(cli: CLI, eibench_dir: Path, tmp_path: Path) -> None:
    assert cli("score", "judge=keyword", expect=2).returncode == 2
    predictions = write_jsonl(tmp_path / "p.jsonl", [{"a.png": "x"}])
    args = ["--predictions", str(predictions), "--split", "basic", "--data-root", str(eibench_dir)]
    result = cli("score", *args, expect=2)
    assert "give a judge" in result.stderr and "Traceback" not in result.stderr


def test_compare_two_runs_on_their_shared_samples(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    cli.run(*echo_args(eibench_dir, tmp_path / "a", "data.shard=0/100"))
    cli.run(*echo_args(eibench_dir, tmp_path / "b", "data.shard=0/100", "data.limit=10",
                       "model.max_words=1"))  # fmt: skip
    run_a, run_b = only_run_dir(tmp_path / "a"), only_run_dir(tmp_path / "b")
    result = cli("compare", str(run_a), str(run_b), "--resamples=2000", "--json").json()
    score = {
        run: {
            r["sample"]["id"]: r["judgments"][0]["recalled"] / r["judgments"][0]["total"]
            for r in read_jsonl(run / "records.jsonl")
        }
        for run in (run_a, run_b)
    }
    shared = list(score[run_b])
    assert result["n_shared"] == 10 and result["n_scored"] == [len(score[run_a]), 10]
    difference = sum(score[run_a][i] - score[run_b][i] for i in shared) / 10
    overall = result["overall"]
    assert overall["difference"] == pytest.approx(difference)
    assert overall["ci"][0] <= difference <= overall["ci"][1] and 0 < overall["p_value"] <= 1
    table = cli("compare", str(run_a), str(run_b)).stdout
    assert "judge keyword; 10 shared samples" in table and f"{100 * difference:.2f}" in table
    missing = cli("compare", str(run_a), str(run_b), "--judge=gpt", expect=2)
    assert "no judgments by 'gpt'" in missing.stderr and "Traceback" not in missing.stderr


def test_calibrate_fits_a_preset_that_later_runs_use(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    reference = ("+judge@judges.ref=semantic", "judges.ref.threshold=0.45")
    cli.run(*echo_args(eibench_dir, tmp_path / "runs", "data.shard=0/80", *reference))
    run_dir = only_run_dir(tmp_path / "runs")
    fitted = cli(
        "calibrate", str(run_dir), "--reference=ref", "--name=fitted", "--resamples=100", "--json"
    ).json()
    assert fitted["n"] == read_json(run_dir / "metrics.json")["recall_by_judge"]["ref"]["n_scored"]
    assert fitted["agreement"]["mean_abs_diff"] == 0.0  # the reference is the same judge
    assert Path(fitted["preset"]).parent == cli.cache / "judges"
    cli.run(*echo_args(eibench_dir, tmp_path / "again", "data.shard=0/80", "judge=fitted"))
    again = read_json(only_run_dir(tmp_path / "again") / "metrics.json")
    (judge,) = again["judges"]
    assert (judge["name"], judge["threshold"]) == ("fitted", fitted["threshold"])
    assert judge["threshold_source"].startswith("calibrated against judge 'ref'")
    # the run under the preset carries the calibration's agreement, per trigger and per emotion
    assert judge["calibration"]["trigger_agreement"] == fitted["trigger_agreement"]
    assert judge["calibration"]["by_emotion"] == fitted["by_emotion"]
    assert fitted["trigger_agreement"]["kappa"] == pytest.approx(1.0)  # the same judge
    ref = read_json(run_dir / "metrics.json")["recall_by_judge"]["ref"]
    assert again["recall"]["overall"] == pytest.approx(ref["overall"])
