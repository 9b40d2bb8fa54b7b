"""The four prompting strategies end to end through ``eicore run``, with the scripted test model.

Images are synthetic files at the EIBench paths of the first samples (the EmoSet/CAER-S images
are not redistributable). Scripted replies are keyed by substrings of eicore's default prompts, so
each phase of a strategy is recognisable in the trace.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from eicore_test_support import CLI, only_run_dir, read_json, read_jsonl

from eicore.datasets.samples import load_basic
from eicore.types import Sample

CAPTION = "A man shouts across a restaurant table at a waiter."
POSED = "1. What is on the table?\n2. Who is the man looking at?\n3. What did the waiter do?"
TRIGGERS = "1. a spilled glass of wine\n2. a waiter walking away"
REASONING = "The man leans forward and points.\nFinal answer:\n1. a spilled glass of wine"
SCRIPT = {
    "Describe this image": CAPTION,  # caption: the captioner's turn
    "step by step": REASONING,  # cot
    "follow-up questions": POSED,  # cfsa: phase 4
    "List the triggers": TRIGGERS,  # cfsa: the summary
}
CFSA_GRAPH = [
    ("planner", 1, False),
    ("answerer", 2, True),
    *[("answerer", 3, True)] * 4,
    ("answerer", 4, True),
    *[("answerer", 5, True)] * 3,
    ("summarizer", 6, False),
]
GRAPHS = {
    "direct": [("answerer", 0, True)],
    "cot": [("answerer", 0, True)],
    "caption": [("captioner", 1, True), ("answerer", 2, True)],
    "cfsa": CFSA_GRAPH,
}
"""Strategy → (role, round, image sent) of every call one sample makes, with default settings."""


def hydra_dict(mapping: Mapping[str, str]) -> str:
    """A Hydra override value for a dict of strings (keys: words, spaces and hyphens only)."""

    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "{" + ", ".join(f"{k}: {quoted(v)}" for k, v in mapping.items()) + "}"


def eibench_images(
    eibench_dir: Path, root: Path, make_image: Callable[..., Path], n: int = 2
) -> list[Sample]:
    """Synthetic images, one colour each, at the paths of EIBench's first ``n`` samples."""
    samples = load_basic(eibench_dir / "user.jsonl", eibench_dir / "basic_ground_truth.json")[:n]
    for i, s in enumerate(samples):
        fmt = "PNG" if s.image.lower().endswith(".png") else "JPEG"
        make_image(root / s.image, format=fmt, color=(30 + 60 * i, 200 - 50 * i, 90))
    return samples


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scripted_args(eibench_dir: Path, tmp_path: Path, *extra: str) -> list[str]:
    """A scripted run over the synthetic images in ``tmp_path/images``, under ``tmp_path/runs``."""
    return [
        "model=scripted",
        f"++model.replies={hydra_dict(SCRIPT)}",
        "judge=keyword",
        "metrics=[trigger_recall]",
        f"data.root={eibench_dir}",
        f"data.image_root={tmp_path / 'images'}",
        "data.limit=2",
        f"run.root={tmp_path / 'runs'}",
        *extra,
    ]


def prompt_text(call: dict[str, Any]) -> str:
    return "\n".join(p["text"] for m in call["prompt"] for p in m["parts"] if "text" in p)


def prompt_images(call: dict[str, Any]) -> list[str]:
    return [p["image_sha256"] for m in call["prompt"] for p in m["parts"] if "image_sha256" in p]


def graph(record: dict[str, Any]) -> list[tuple[str, int, bool]]:
    return [(c["role"], c["round"], bool(prompt_images(c))) for c in record["response"]["trace"]]


@pytest.fixture
def images(eibench_dir: Path, tmp_path: Path, make_image: Callable[..., Path]) -> list[Sample]:
    return eibench_images(eibench_dir, tmp_path / "images", make_image)


@pytest.mark.parametrize("strategy", ["direct", "cot", "caption", "cfsa"])
def test_each_strategy_runs_and_its_trace_is_in_the_run(
    cli: CLI, eibench_dir: Path, tmp_path: Path, images: list[Sample], strategy: str
) -> None:
    log = tmp_path / "scripted.log"
    args = scripted_args(eibench_dir, tmp_path, f"strategy={strategy}", f"model.log={log}")
    cli.run(*args)
    run_dir = only_run_dir(tmp_path / "runs")
    assert run_dir.name.startswith(f"scripted__{strategy}__basic__")
    records = read_jsonl(run_dir / "records.jsonl")
    assert [r["sample"]["image"] for r in records] == [s.image for s in images]
    for record, sample in zip(records, images, strict=True):
        assert record["status"] == "answered", record
        assert graph(record) == GRAPHS[strategy]
        digest = sha256(tmp_path / "images" / sample.image)
        for call in record["response"]["trace"]:
            assert prompt_images(call) in ([], [digest])  # the sample's own image, if any
        trace = record["response"]["trace"]
        answer = record["response"]["text"]
        if strategy in ("direct", "cot"):
            assert sample.question in prompt_text(trace[0])
        if strategy == "direct":
            assert answer == f"Answer to: {sample.question}"
        if strategy == "cot":  # the judge sees the final answer; the reasoning stays in the trace
            assert trace[0]["completion"]["text"] == REASONING
            assert answer == "1. a spilled glass of wine"
        if strategy == "caption":
            assert trace[0]["completion"]["text"] == CAPTION
            assert CAPTION in prompt_text(trace[1]) and sample.question in prompt_text(trace[1])
        if strategy == "cfsa":
            assert sample.question in prompt_text(trace[0])
            asked = [prompt_text(c).splitlines()[-1] for c in trace if c["round"] == 5]
            assert asked == [
                "What is on the table?",
                "Who is the man looking at?",
                "What did the waiter do?",
            ]
            assert answer == TRIGGERS
    # every call not served from the cache reached the model, and nothing else did
    calls = [c for r in records for c in r["response"]["trace"]]
    assert len(read_jsonl(log)) == sum(not c["cached"] for c in calls)
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["n_answered"] == 2 and metrics["strategy"]["plugin"] == strategy
    assert metrics["calls_made"] + metrics["calls_cached"] == 2 * len(GRAPHS[strategy])
    artifacts = {"caption": "captions.jsonl", "cfsa": "cfsa_review.jsonl"}
    produced = {p.name for p in run_dir.iterdir()} & {"captions.jsonl", "cfsa_review.jsonl"}
    assert produced == ({artifacts[strategy]} if strategy in artifacts else set())
    if strategy == "cfsa":
        assert "ground truth" in metrics["strategy"]["note"]
        review = read_jsonl(run_dir / "cfsa_review.jsonl")
        assert [len(r["trace"]) for r in review] == [11, 11]
        assert not (run_dir / "user.jsonl").exists()  # only `eicore annotate` emits annotations


def strategy_of(run_dir: Path) -> tuple[Any, dict[str, Any]]:
    from omegaconf import OmegaConf

    return OmegaConf.load(run_dir / "config.yaml").strategy, read_json(run_dir / "metrics.json")


def test_a_persona_and_template_from_the_command_line(
    cli: CLI, eibench_dir: Path, tmp_path: Path, images: list[Sample]
) -> None:
    overrides = (
        "strategy=direct",
        "strategy.persona='You are a poet.'",
        "strategy.template='{persona} || {question} || in verse, please'",
    )
    cli.run(*scripted_args(eibench_dir, tmp_path, *overrides))
    run_dir = only_run_dir(tmp_path / "runs")
    for record, sample in zip(read_jsonl(run_dir / "records.jsonl"), images, strict=True):
        (call,) = record["response"]["trace"]
        assert prompt_text(call) == f"You are a poet. || {sample.question} || in verse, please"
    config, metrics = strategy_of(run_dir)
    assert config.persona == metrics["strategy"]["persona"] == "You are a poet."
    assert config.template == metrics["strategy"]["template"]
    assert "in verse, please" in config.template


def test_a_cot_cue_and_marker_from_the_command_line(
    cli: CLI, eibench_dir: Path, tmp_path: Path, images: list[Sample]
) -> None:
    replies = hydra_dict({"detective": "Clues.\nverdict: 1. wine"})
    overrides = [
        "strategy=cot",
        "strategy.cue='Reason like a detective.'",
        "strategy.marker=VERDICT:",
        f"++model.replies={replies}",
    ]
    cli.run(*scripted_args(eibench_dir, tmp_path, *overrides))
    run_dir = only_run_dir(tmp_path / "runs")
    for record in read_jsonl(run_dir / "records.jsonl"):
        text = prompt_text(record["response"]["trace"][0])
        assert "Reason like a detective." in text and "VERDICT:" in text
        assert "step by step" not in text
        assert record["response"]["text"] == "1. wine"
    config, metrics = strategy_of(run_dir)
    assert config.cue == metrics["strategy"]["cue"] == "Reason like a detective."
    assert config.marker == metrics["strategy"]["marker"] == "VERDICT:"


def test_cfsa_questions_from_the_command_line(
    cli: CLI, eibench_dir: Path, tmp_path: Path, images: list[Sample]
) -> None:
    general = ["Is it raining?", "Who is shouting?"]
    overrides = (
        "strategy=cfsa",
        f"strategy.general_questions={json.dumps(general)}",
        "strategy.scenario_count=1",
    )
    cli.run(*scripted_args(eibench_dir, tmp_path, *overrides))
    run_dir = only_run_dir(tmp_path / "runs")
    for record in read_jsonl(run_dir / "records.jsonl"):
        trace = record["response"]["trace"]
        assert [c["round"] for c in trace] == [1, 2, 3, 3, 4, 5, 6]  # 1 + 1 + 2 + 1 + 1 + 1
        assert [prompt_text(c).splitlines()[-1] for c in trace if c["round"] == 3] == general
        assert "Ask 1 short follow-up" in prompt_text(trace[4])
        assert prompt_text(trace[5]).splitlines()[-1] == "What is on the table?"
    config, metrics = strategy_of(run_dir)
    assert list(config.general_questions) == metrics["strategy"]["general_questions"] == general
    assert config.scenario_count == metrics["strategy"]["scenario_count"] == 1


def test_caption_with_its_own_captioner_and_a_text_only_answerer_then_reused(
    cli: CLI, eibench_dir: Path, tmp_path: Path, images: list[Sample]
) -> None:
    captioner_log, echo_log = tmp_path / "captioner.log", tmp_path / "echo.log"
    common = [
        "model=echo",
        "strategy=caption",
        "strategy.answerer_sees_image=false",
        "+model@roles.captioner=scripted",
        f"roles.captioner.default='{CAPTION}'",
        f"roles.captioner.log={captioner_log}",
        f"model.log={echo_log}",
        "judge=keyword",
        "metrics=[trigger_recall]",
        f"data.root={eibench_dir}",
    ]
    cli.run(
        *common,
        f"data.image_root={tmp_path / 'images'}",
        "data.limit=2",
        f"run.root={tmp_path / 'runs-a'}",
    )
    run_a = only_run_dir(tmp_path / "runs-a")
    assert run_a.name.startswith("echo__caption__basic__")
    for record, sample in zip(read_jsonl(run_a / "records.jsonl"), images, strict=True):
        captioner, answerer = record["response"]["trace"]
        assert (captioner["role"], answerer["role"]) == ("captioner", "answerer")
        assert prompt_images(captioner) == [sha256(tmp_path / "images" / sample.image)]
        assert prompt_images(answerer) == [] and CAPTION in prompt_text(answerer)
        assert prompt_text(answerer).splitlines()[-1] == sample.question
    assert [c["images"] for c in read_jsonl(echo_log)] == [[], []]  # echo never got an image
    assert len(read_jsonl(captioner_log)) == 2
    captions = run_a / "captions.jsonl"
    assert read_jsonl(captions) == [{s.image: CAPTION} for s in images]

    # the captions stand in for the captioner: no image root needed, no captioner call made;
    # a third sample has no caption in the file and fails alone, naming the file and the image
    cli.run(
        *common, f"strategy.captions={captions}", "data.limit=3", f"run.root={tmp_path / 'runs-b'}"
    )
    run_b = only_run_dir(tmp_path / "runs-b")
    assert len(read_jsonl(captioner_log)) == 2
    records = read_jsonl(run_b / "records.jsonl")
    for record in records[:2]:
        assert [c["role"] for c in record["response"]["trace"]] == ["answerer"]
        assert CAPTION in prompt_text(record["response"]["trace"][0])
    third = records[2]
    assert third["status"] == "failed" and third["error_type"] == "MissingCaptionError"
    assert str(captions) in third["error"] and third["sample"]["image"] in third["error"]
    assert third["response"]["trace"] == []
    metrics = read_json(run_b / "metrics.json")
    assert metrics["n_answered"] == 2 and metrics["errors"] == {"MissingCaptionError": 1}
    assert metrics["strategy"]["captions"] == str(captions)
    assert read_jsonl(run_b / "captions.jsonl") == read_jsonl(captions)


def test_a_sweep_over_the_four_strategies(
    cli: CLI, eibench_dir: Path, tmp_path: Path, images: list[Sample]
) -> None:
    args = scripted_args(eibench_dir, tmp_path, "data.limit=1", "strategy=direct,caption,cot,cfsa")
    cli.run(*args, flags=["-m"])
    runs = sorted(p.parent for p in (tmp_path / "runs" / "sweeps").glob("*/metrics.json"))
    assert len(runs) == 4
    seen = {}
    for run_dir in runs:
        metrics = read_json(run_dir / "metrics.json")
        assert metrics["complete"] and metrics["n_answered"] == 1
        (record,) = read_jsonl(run_dir / "records.jsonl")
        seen[metrics["strategy"]["plugin"]] = graph(record)
    assert seen == GRAPHS


def test_a_cfsa_run_resumes_with_no_calls(
    cli: CLI, eibench_dir: Path, tmp_path: Path, images: list[Sample]
) -> None:
    log = tmp_path / "scripted.log"
    # no call cache: what the second command skips, it skips because the run stored it
    args = scripted_args(
        eibench_dir, tmp_path, "strategy=cfsa", f"model.log={log}", "run.cache=false"
    )
    first = cli.run(*args)
    assert len(read_jsonl(log)) == 2 * 11
    assert "2 answered, 0 failed, 0 resumed; 22 calls made, 0 cached" in first.stderr
    run_dir = only_run_dir(tmp_path / "runs")
    before = read_jsonl(run_dir / "records.jsonl")
    second = cli.run(*args)
    assert len(read_jsonl(log)) == 22
    assert "0 answered, 0 failed, 2 resumed; 0 calls made, 0 cached" in second.stderr
    assert only_run_dir(tmp_path / "runs") == run_dir
    assert read_jsonl(run_dir / "records.jsonl") == before
    assert read_json(run_dir / "metrics.json")["calls_made"] == 22


# -- docs/strategies.md quotes every default prompt verbatim --------------------------------------


def default_texts() -> list[str]:
    import dataclasses

    from eicore_strategies import CaptionConfig, CFSAConfig, CoTConfig, DirectConfig
    from eicore_strategies.personas import PERSONAS

    texts = [s for s in PERSONAS.values() if s]
    for config in (DirectConfig(), CoTConfig(), CaptionConfig(), CFSAConfig()):
        for name, value in dataclasses.asdict(config).items():
            if isinstance(value, str) and name != "persona":
                texts.append(value)
            elif isinstance(value, list):
                texts.extend(value)
    return texts


def test_the_strategy_docs_quote_every_default_prompt() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "strategies.md").read_text("utf-8")
    missing = [t for t in default_texts() if t not in docs]
    assert not missing, f"docs/strategies.md lacks these defaults verbatim: {missing}"


def test_calls_per_sample_in_the_docs_match_the_measured_graphs() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "strategies.md").read_text("utf-8")
    counts: Sequence[tuple[str, int]] = [(s, len(g)) for s, g in GRAPHS.items()]
    for strategy, count in counts:
        assert f"| `{strategy}` | {count}" in docs, (strategy, count)
