"""``eicore annotate``: CFSA over new images, written out as a custom EIBench dataset plus a review
file, resumable like a run.

The scripted model's replies are keyed by substrings of the prompts, so every phase is
recognisable: the planner's rewrite (``ENRICHED-…``), the grounded question, the posed follow-up
questions and a summary per image.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from eicore_test_support import (
    CLI,
    UNMEASURED,
    keyword_recalled,
    only_run_dir,
    read_json,
    read_jsonl,
)

from eicore.datasets.samples import load_basic

POSED = "1. What is on the table?\n2. Who is nearby?\n3. What happened just before?"
GROUNDED = {
    "anger/a.jpg": "Why is the man in the red shirt shouting at the broken vase?",
    "joy/b.png": "Why is the girl with the kite laughing with her friends?",
}
TRIGGERS = {
    "anger/a.jpg": "1. a broken vase\n2. a man shouting",
    "joy/b.png": "1. a kite flying high\n2. friends laughing",
}
SCRIPT = {  # the first key found in a prompt answers it: later phases' keys come first
    "follow-up questions": POSED,  # phase 4, asked of the VLM
    # phase 6: the summary prompt quotes the grounded question
    "red shirt": TRIGGERS["anger/a.jpg"],
    "kite": TRIGGERS["joy/b.png"],
    "ENRICHED-ANGRY": GROUNDED["anger/a.jpg"],  # phase 2: grounding the planner's rewrite
    "ENRICHED-JOY": GROUNDED["joy/b.png"],
    "feel angry": "ENRICHED-ANGRY",  # phase 1: the planner, given the folder's question
    "feel joy": "ENRICHED-JOY",
    "so furious": "ENRICHED-ANGRY",  # phase 1 for the JSONL input's own question
}
ROUNDS = [1, 2, 3, 3, 3, 3, 4, 5, 5, 5, 6]


def hydra_dict(mapping: Mapping[str, str]) -> str:
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "{" + ", ".join(f"{k}: {quoted(v)}" for k, v in mapping.items()) + "}"


@pytest.fixture
def folder(tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    """Images in emotion-named folders, one JPEG and one PNG."""
    root = tmp_path / "imgs"
    make_image(root / "anger" / "a.jpg", format="JPEG", color=(220, 30, 30))
    make_image(root / "joy" / "b.png", format="PNG", color=(240, 220, 40))
    return root


def annotate_args(folder: Path, runs: Path, log: Path, *extra: str) -> list[str]:
    return [
        "annotate",
        "model=scripted",
        f"++model.replies={hydra_dict(SCRIPT)}",
        f"model.log={log}",
        f"data.image_root={folder}",
        f"run.root={runs}",
        "run.progress=false",
        *extra,
    ]


def test_annotate_writes_a_custom_eibench_dataset_and_a_review_file(
    cli: CLI, folder: Path, tmp_path: Path
) -> None:
    log = tmp_path / "scripted.log"
    first = cli(*annotate_args(folder, tmp_path / "runs", log))
    run_dir = only_run_dir(tmp_path / "runs")
    assert run_dir.name.startswith("annotate__scripted__")
    assert len(read_jsonl(log)) == 2 * 11  # every call of both images reached the model
    assert "2 answered, 0 failed, 0 resumed; 22 calls made" in first.stderr

    # user.jsonl: one {image: grounded question} per image; the triggers, renumbered
    assert read_jsonl(run_dir / "user.jsonl") == [{k: v} for k, v in GROUNDED.items()]
    assert read_json(run_dir / "basic_ground_truth.json") == TRIGGERS

    # the review file: every phase and the full trace per image, for the human pass
    review = read_jsonl(run_dir / "cfsa_review.jsonl")
    assert [r["image"] for r in review] == ["anger/a.jpg", "joy/b.png"]
    assert [r["emotion"] for r in review] == ["angry", "joy"]  # from the folder names
    assert [r["question"] for r in review] == [
        "Why does the person in the image feel angry?",
        "Why does the person in the image feel joy?",
    ]
    assert [r["enriched"] for r in review] == ["ENRICHED-ANGRY", "ENRICHED-JOY"]
    assert [r["grounded"] for r in review] == list(GROUNDED.values())
    assert [r["summary"] for r in review] == list(TRIGGERS.values())
    for row in review:
        assert [q for q, _ in row["general"]] == [
            "How many people are in the image, and where are they?",
            "What activity or interaction is taking place?",
            "What is the facial expression of the person the question is about?",
            "What is the body posture or gesture of the person the question is about?",
        ]
        assert row["scenario"] == [
            ["What is on the table?", "Answer to: What is on the table?"],
            ["Who is nearby?", "Answer to: Who is nearby?"],
            ["What happened just before?", "Answer to: What happened just before?"],
        ]
        trace = row["trace"]
        assert [c["round"] for c in trace] == ROUNDS
        assert [c["role"] for c in trace] == ["planner", *["answerer"] * 9, "summarizer"]
        assert trace[0]["completion"]["text"] == row["enriched"]
        assert trace[1]["completion"]["text"] == row["grounded"]
        assert trace[-1]["completion"]["text"] == row["summary"]
    # annotation runs are not scored: no judge, no metrics, but the CFSA caveat is recorded
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["judges"] == [] and "recall" not in metrics
    assert metrics["strategy"]["plugin"] == "cfsa" and metrics["strategy"]["emit_annotations"]

    # the outputs are a valid custom EIBench dataset ...
    samples = load_basic(run_dir / "user.jsonl", run_dir / "basic_ground_truth.json")
    assert [(s.image, s.question, s.emotion) for s in samples] == [
        ("anger/a.jpg", GROUNDED["anger/a.jpg"], "angry"),
        ("joy/b.png", GROUNDED["joy/b.png"], "joy"),
    ]
    assert samples[0].triggers == ("a broken vase", "a man shouting")
    # ... that eicore can evaluate a model on
    cli.run(
        "model=echo",
        "judge=keyword",
        "metrics=[trigger_recall]",
        f"data.questions={run_dir / 'user.jsonl'}",
        f"data.ground_truth={run_dir / 'basic_ground_truth.json'}",
        f"run.root={tmp_path / 'eval'}",
    )
    evaluated = read_json(only_run_dir(tmp_path / "eval") / "metrics.json")
    assert evaluated["n_answered"] == 2
    # echo answers with the question's long words: recall by the keyword judge's own rule
    scores = [len(keyword_recalled(s.question, s.triggers)) / len(s.triggers) for s in samples]
    assert evaluated["recall"]["overall"] == pytest.approx(sum(scores) / len(scores))
    assert 0 < evaluated["recall"]["overall"] < 1


def test_annotate_resumes_with_no_calls(cli: CLI, folder: Path, tmp_path: Path) -> None:
    log = tmp_path / "scripted.log"
    args = annotate_args(folder, tmp_path / "runs", log, "run.cache=false")
    cli(*args)
    run_dir = only_run_dir(tmp_path / "runs")
    made = len(read_jsonl(log))
    outputs = {
        n: (run_dir / n).read_text("utf-8")
        for n in ("user.jsonl", "basic_ground_truth.json", "cfsa_review.jsonl")
    }
    second = cli(*args)
    assert len(read_jsonl(log)) == made == 22
    assert "0 answered, 0 failed, 2 resumed; 0 calls made, 0 cached" in second.stderr
    assert only_run_dir(tmp_path / "runs") == run_dir
    for name, text in outputs.items():
        assert (run_dir / name).read_text("utf-8") == text, name


def test_annotate_from_a_jsonl_of_images_questions_and_emotions(
    cli: CLI, folder: Path, tmp_path: Path, make_image: Callable[..., Path]
) -> None:
    make_image(folder / "sad" / "c.png")  # in the folder but not in the list: not annotated
    items = tmp_path / "items.jsonl"
    rows = [
        {"image": "anger/a.jpg", "question": "Why is the man so furious?", "emotion": "angry"},
        {"image": "joy/b.png"},  # no question: the template, with the folder's emotion
    ]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    log = tmp_path / "scripted.log"
    cli(*annotate_args(folder, tmp_path / "runs", log, f"data.items={items}"))
    run_dir = only_run_dir(tmp_path / "runs")
    review = read_jsonl(run_dir / "cfsa_review.jsonl")
    assert [(r["image"], r["question"], r["emotion"]) for r in review] == [
        ("anger/a.jpg", "Why is the man so furious?", "angry"),
        ("joy/b.png", "Why does the person in the image feel joy?", "joy"),
    ]
    assert '"Why is the man so furious?"' in review[0]["trace"][0]["prompt"][0]["parts"][0]["text"]
    assert read_jsonl(run_dir / "user.jsonl") == [{k: v} for k, v in GROUNDED.items()]
    assert read_json(run_dir / "basic_ground_truth.json") == TRIGGERS
    assert len(read_jsonl(log)) == 22


def test_annotate_without_a_model_or_images_fails_clearly(cli: CLI, folder: Path) -> None:
    result = cli("annotate", f"data.image_root={folder}", env=UNMEASURED, expect=None)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "must specify 'model'" in output
    assert "scripted" in output  # the choices are listed
    assert "Traceback" not in output
    result = cli("annotate", "model=scripted", expect=2)
    assert "data.image_root" in result.stderr and "Traceback" not in result.stderr


def test_a_jsonl_listing_an_image_twice_is_refused(cli: CLI, folder: Path, tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    rows = [
        {"image": "anger/a.jpg", "question": "Why is the man so furious?"},
        {"image": "anger/a.jpg", "question": "Why is the woman behind him smiling?"},
    ]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    result = cli(
        *annotate_args(folder, tmp_path / "runs", tmp_path / "log", f"data.items={items}"),
        expect=None,
    )
    assert result.returncode == 2, result
    assert "anger/a.jpg" in result.stderr and "line 2" in result.stderr
    assert "Traceback" not in result.stderr
