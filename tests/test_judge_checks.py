"""Judges checked end to end: two per-trigger judges side by side (recall, precision, F1 each),
``eicore judge-check`` finding the biases planted in scripted judges, ``eicore calibrate``
reporting kappa with its CI, the jury, and human labels (PPI, agreement) in the report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eicore_test_support import CLI, only_run_dir, read_json, read_jsonl

from eicore.viewer.judge_review import LABELS_FILE
from eicore.viewer.page import decode_payload


def grader(name: str, bias: str) -> tuple[str, ...]:
    """The ``llm`` judge on the scripted ``grader`` model with a planted bias."""
    return (
        f"+judge@judges.{name}=llm",
        f"+model@judges.{name}.model=grader",
        f"judges.{name}.model.bias={bias}",
        f"judges.{name}.backoff_s=0",
    )


TWO_JUDGES = (*grader("fair", "none"), *grader("first", "first"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, echo_site: Path, eibench_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("judged")
    cli = CLI([echo_site], root / "cache", root)
    cli.run("model=echo", "~judge", "metrics=[trigger_recall,jury]", f"data.root={eibench_dir}",
            f"run.root={root / 'runs'}", "data.limit=40", *TWO_JUDGES)  # fmt: skip
    return only_run_dir(root / "runs")


def test_two_judges_show_recall_precision_and_f1(run_dir: Path) -> None:
    metrics = read_json(run_dir / "metrics.json")
    assert [j["name"] for j in metrics["judges"]] == ["fair", "first"]
    for key in ("recall_by_judge", "precision_by_judge", "f1_by_judge"):
        assert list(metrics[key]) == ["fair", "first"]
        assert all(v["n_scored"] == 40 and v["ci"] for v in metrics[key].values())
    records = read_jsonl(run_dir / "records.jsonl")
    for record in records:
        fair, first = record["judgments"]
        assert len(fair["triggers"]) == len(record["sample"]["triggers"]) and fair["items"]
        assert first["triggers"][0]["verdict"] == "matched"  # the planted bias
    # the first-crediting judge's recall is above the fair one's
    recall = metrics["recall_by_judge"]
    assert recall["first"]["overall"] > recall["fair"]["overall"]
    jury = metrics["jury"]
    assert jury["members"] == ["fair", "first"] and jury["n"] == 40
    assert set(jury["agreement"]) == {"fair", "first"}


def test_report_tables_show_precision_beside_recall(
    cli: CLI, run_dir: Path, tmp_path: Path
) -> None:
    result = cli("report", str(run_dir), "--out", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "report" / "summary.md").read_text()
    assert "## Precision beside recall" in md
    assert re.search(r"\| fair +\| [\d.]+ \[", md) and re.search(r"\| first +\| [\d.]+ \[", md)
    header = (tmp_path / "report" / "summary.csv").read_text().splitlines()[0]
    assert "precision" in header and "f1" in header
    assert "precision beside recall" in (tmp_path / "report" / "summary.tex").read_text()
    payload = decode_payload((tmp_path / "report" / "report.html").read_text())
    rows = {r["judge"]: r for r in payload["summary"]}
    assert rows["fair"]["precision"] != "—" and rows["first"]["f1"] != "—"


def judge_check(cli: CLI, run_dir: Path, *args: str) -> dict[str, list[dict[str, object]]]:
    result = cli("judge-check", str(run_dir), "--json", "--resamples", "300", *args)
    assert result.returncode == 0, result.stderr
    found: dict[str, list[dict[str, object]]] = json.loads(result.stdout)
    return found


def test_judge_check_finds_the_planted_biases(cli: CLI, run_dir: Path, tmp_path: Path) -> None:
    found = judge_check(cli, run_dir, "--probes", "order,shuffle,verbosity")
    probes = {name: {p["probe"]: p for p in found[name]} for name in found}
    assert not any(p["detected"] for p in probes["fair"].values())
    assert probes["first"]["order"]["detected"] and probes["first"]["order"]["changed"] > 0
    assert not probes["first"]["verbosity"]["detected"]
    # judge calls are cached: asking again sends the grader nothing new
    log = tmp_path / "grader.jsonl"
    logged = (*grader("fair", "none"), f"++judges.fair.model.log={log}")
    judge_check(cli, run_dir, "--probes", "order,verbosity", "--seeds", "2", *logged)
    calls = len(read_jsonl(log))
    # at most the originals, 2 orders and the padded answers (equal prompts are asked once)
    assert 40 * 3 < calls <= 40 * (1 + 2 + 1)
    judge_check(cli, run_dir, "--probes", "order,verbosity", "--seeds", "2", *logged)
    assert len(read_jsonl(log)) == calls
    swayed = judge_check(cli, run_dir, "--probes", "order,verbosity",
                         *grader("long", "length"), "judges.long.model.per_words=10")  # fmt: skip
    (order, verbosity) = swayed["long"]
    assert verbosity["detected"] and verbosity["mean_shift"] > 0 and not order["detected"]
    table = cli("judge-check", str(run_dir), "--probes", "order", "--resamples", "100")
    assert "BIAS DETECTED" in table.stdout and "changed" in table.stdout


def test_judge_check_paraphrase_needs_a_model(cli: CLI, run_dir: Path) -> None:
    result = cli("judge-check", str(run_dir), "--probes", "paraphrase", expect=2)
    assert result.returncode == 2 and "paraphraser" in result.stderr
    found = judge_check(cli, run_dir, "--probes", "paraphrase", "+model@paraphraser=scripted")
    (fair,) = found["fair"]
    # the scripted paraphraser echoes each trigger (its prompt's last line): nothing changes
    assert fair["probe"] == "paraphrase" and fair["mean_shift"] == 0 and not fair["detected"]


def test_calibrate_reports_kappa_with_its_ci(cli: CLI, run_dir: Path, tmp_path: Path) -> None:
    result = cli("calibrate", str(run_dir), "--reference", "fair", "--name", "fitted",
                 "--resamples", "200", "--limit", "24", "--json", timeout=900)  # fmt: skip
    assert result.returncode == 0, result.stderr
    fitted = json.loads(result.stdout)
    trigger = fitted["trigger_agreement"]
    assert trigger["n_samples"] == 24 and trigger["kappa"] is not None
    assert trigger["kappa_ci"][0] <= trigger["kappa"] <= trigger["kappa_ci"][1]
    assert fitted["by_emotion"] and all("kappa_ci" in e for e in fitted["by_emotion"].values())
    preset = json.loads(Path(fitted["preset"]).read_text())
    assert preset["calibration"]["trigger_agreement"] == trigger
    text = cli("calibrate", str(run_dir), "--reference", "fair", "--name", "fitted",
               "--limit", "24", "--resamples", "200", timeout=900)  # fmt: skip
    assert "Cohen's kappa" in text.stdout and "95% CI" in text.stdout


def test_human_labels_give_agreement_and_ppi(cli: CLI, run_dir: Path, tmp_path: Path) -> None:
    records = read_jsonl(run_dir / "records.jsonl")[:12]
    for reviewer, flip in (("ann", 0), ("bob", 3)):
        folder = run_dir / "reviews" / reviewer
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for k, r in enumerate(records):
            labels = [t["verdict"] for t in r["judgments"][0]["triggers"]]
            if flip and k % flip == 0:
                labels[0] = "missed" if labels[0] == "matched" else "matched"
            rows.append({"sample": r["sample"]["id"], "reviewer": reviewer, "labels": labels})
        (folder / LABELS_FILE).write_text("".join(json.dumps(x) + "\n" for x in rows))
    agreement = cli("agreement", str(run_dir), "--json")
    assert agreement.returncode == 0, agreement.stderr
    found = json.loads(agreement.stdout)
    assert found["reviewers"] == ["ann", "bob"] and found["n_samples"] == 12
    (ann_fair, bob_fair) = found["judge_human"]["fair"]["pairs"]
    assert ann_fair["kappa"] == pytest.approx(1.0)  # ann copied the fair judge's verdicts
    assert bob_fair["kappa"] < 1 and found["human_human"]["alpha"] < 1
    report = cli("report", str(run_dir), "--out", str(tmp_path / "report"))
    md = (tmp_path / "report" / "summary.md").read_text()
    assert report.returncode == 0 and "Recall corrected by human labels (PPI)" in md
    assert re.search(r"\| fair +\| [\d.]+ +\| [\d.]+ \[[\d.]+, [\d.]+\] +\| 12 of 40", md)


def test_posted_labels_are_checked() -> None:
    from eicore.viewer.judge_review import checked_labels, ppi_recall
    from eicore.viewer.runs import ViewerError

    totals = {"s1": 2}
    assert (
        checked_labels({"sample": "s1", "labels": ["matched", "missed"]}, "r", totals).recall == 0.5
    )
    for body, message in (
        ([], "JSON object"),
        ({"sample": "nope", "labels": []}, "unknown sample"),
        ({"sample": "s1", "labels": ["matched", "maybe"]}, "'matched' or 'missed'"),
        ({"sample": "s1", "labels": ["matched"]}, "expected 2 labels"),
    ):
        with pytest.raises(ViewerError, match=message):
            checked_labels(body, "r", totals)
    # PPI by hand: judge mean on the unlabelled, plus the mean human - judge gap
    judge = {"a": 0.5, "b": 1.0, "c": 0.0, "d": 0.5}
    human = {"a": 1.0, "b": 1.0}
    found = ppi_recall(judge, human)
    assert found is not None and found["recall"] == pytest.approx(0.25 + 0.25)
    assert found["ci"][0] < found["recall"] < found["ci"][1]
    assert ppi_recall(judge, {"a": 1.0}) is None
