"""``cfsa``: the six traced phases in order, who gets the image, the configurable question counts,
reading posed questions and the summary, steps() and the review/annotation files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from eicore_strategies import CFSA, CFSAConfig
from eicore_strategies.cfsa import Steps, posed_questions

from eicore import Response, SampleRecord, build

DEFAULT_QUESTIONS = CFSAConfig().general_questions
POSED = "1. What is on the table?\n2. Who stands behind him?\n3. What did the waiter just do?"
SUMMARY = "1. a spilled glass of wine\n2. a waiter walking away\n3. clenched fists"
DEFAULT_GRAPH = [
    ("planner", 1),
    ("answerer", 2),
    *[("answerer", 3)] * 4,
    ("answerer", 4),
    *[("answerer", 5)] * 3,
    ("summarizer", 6),
]


def cfsa_cast(cast, *, posed: str = POSED, summary: str = SUMMARY, vision=(False, True, False)):
    """planner / answerer / summarizer with recognisable replies; the answerer's answers to
    general and scenario questions are "A<n>", distinct for every call."""
    counter = iter(range(1, 100))
    cast.role("planner", vision=vision[0], default="ENRICHED: what caused his anger?")
    cast.role(
        "answerer",
        vision=vision[1],
        replies={"follow-up questions": posed, "names the specific person": "GROUNDED?"},
        default=lambda _: f"A{next(counter)}",
    )
    cast.role("summarizer", vision=vision[2], default=summary)
    return cast


def test_default_cfsa_makes_eleven_calls_in_phase_order(cast, sample, image) -> None:
    cfsa_cast(cast)
    config = CFSAConfig()
    answer = cast.answer(CFSA(config), sample, image)
    assert len(cast.log) == 11 == 1 + 1 + len(DEFAULT_QUESTIONS) + 1 + config.scenario_count + 1
    assert cast.calls == DEFAULT_GRAPH
    assert [s.round for s in cast.log] == [1, 2, 3, 3, 3, 3, 4, 5, 5, 5, 6]
    assert answer == SUMMARY

    plan, ground, *rest = cast.log
    general, pose, scenario, summary = rest[:4], rest[4], rest[5:8], rest[8]
    assert plan.text == config.enrich_prompt.format(question=sample.question)
    assert ground.text == config.ground_prompt.format(enriched="ENRICHED: what caused his anger?")
    assert [g.text for g in general] == [
        config.answer_prompt.format(question=q) for q in DEFAULT_QUESTIONS
    ]
    known = [f"- {q} A{n}" for n, q in enumerate(DEFAULT_QUESTIONS, 1)]
    assert pose.text == config.pose_prompt.format(
        grounded="GROUNDED?", facts="\n".join(known), count=3
    )
    asked = ["What is on the table?", "Who stands behind him?", "What did the waiter just do?"]
    assert [s.text for s in scenario] == [config.answer_prompt.format(question=q) for q in asked]
    known += [f"- {q} A{n}" for n, q in enumerate(asked, 5)]
    assert summary.text == config.summary_prompt.format(
        grounded="GROUNDED?", facts="\n".join(known)
    )


def test_only_the_vlm_phases_get_the_image_when_planner_and_summarizer_are_text_models(
    cast, sample, image
) -> None:
    cfsa_cast(cast, vision=(False, True, False))
    cast.answer(CFSA(CFSAConfig()), sample, image)
    sent = [(s.role, s.round) for s in cast.log if s.images]
    assert sent == [c for c in DEFAULT_GRAPH if c[0] == "answerer"]
    assert all(s.images == [image.sha256] for s in cast.log if s.images)
    assert not cast.roles["planner"].seen[0].images and not cast.roles["summarizer"].seen[0].images


def test_a_text_only_answerer_is_sent_no_image(cast, sample, image) -> None:
    cfsa_cast(cast, vision=(False, False, False))
    cast.answer(CFSA(CFSAConfig()), sample, image)
    assert len(cast.log) == 11 and all(s.images == [] for s in cast.log)
    assert CFSA(CFSAConfig()).needs_image(cast.roles) is False


def test_one_vlm_can_play_every_role(cast, sample, image) -> None:
    vlm = cast.role(
        "vlm",
        replies={"follow-up questions": POSED, "numbered list of short phrases": SUMMARY},
        default="something",
    )
    for role in ("planner", "answerer", "summarizer"):
        cast.also(role, vlm)
    assert cast.answer(CFSA(CFSAConfig()), sample, image) == SUMMARY
    assert [s.round for s in vlm.seen] == [1, 2, 3, 3, 3, 3, 4, 5, 5, 5, 6]
    # the planner and the summarizer work from text: the image goes to the VLM phases only
    assert [s.round for s in vlm.seen if s.images] == [2, 3, 3, 3, 3, 4, 5, 5, 5]


def test_cfsa_needs_the_image_only_when_the_answerer_sees(cast) -> None:
    cfsa_cast(cast, vision=(True, False, True))
    assert CFSA(CFSAConfig()).needs_image(cast.roles) is False


@pytest.mark.parametrize(
    ("general", "count", "posed", "expected_calls"),
    [
        (["Is it raining?", "Who is shouting?"], 1, POSED, 1 + 1 + 2 + 1 + 1 + 1),
        ([], 5, "\n".join(f"{n}. Q{n}?" for n in range(1, 6)), 1 + 1 + 0 + 1 + 5 + 1),
        (DEFAULT_QUESTIONS, 3, "1. Only one question?", 1 + 1 + 4 + 1 + 1 + 1),
        (DEFAULT_QUESTIONS, 3, "1. First?\n2. Second?", 1 + 1 + 4 + 1 + 2 + 1),
    ],
)
def test_question_counts_come_from_config(
    cast, sample, image, general, count, posed, expected_calls
) -> None:
    cfsa_cast(cast, posed=posed)
    config = CFSAConfig(general_questions=list(general), scenario_count=count)
    cast.answer(CFSA(config), sample, image)
    assert len(cast.log) == expected_calls
    rounds = [s.round for s in cast.log]
    assert rounds.count(3) == len(general)
    assert rounds.count(5) == min(count, len(posed_questions(posed, 99)))
    assert rounds == sorted(rounds)
    pose = next(s for s in cast.log if s.round == 4)
    assert f"Ask {count} short follow-up questions" in pose.text
    for question in general:
        assert f"- {question} A" in pose.text


def test_every_cfsa_prompt_is_a_template(cast, sample, image) -> None:
    cfsa_cast(cast, posed="1. P1?")
    config = CFSAConfig(
        enrich_prompt="E[{question}]",
        ground_prompt="G[{enriched}] names the specific person",
        general_questions=["Q1?"],
        answer_prompt="AP[{question}]",
        scenario_count=1,
        pose_prompt="P[{grounded}|{facts}|{count}] follow-up questions",
        summary_prompt="S[{grounded}|{facts}]",
    )
    cast.answer(CFSA(config), sample, image)
    texts = [s.text for s in cast.log]
    assert texts == [
        f"E[{sample.question}]",
        "G[ENRICHED: what caused his anger?] names the specific person",
        "AP[Q1?]",
        "P[GROUNDED?|- Q1? A1|1] follow-up questions",
        "AP[P1?]",
        "S[GROUNDED?|- Q1? A1\n- P1? A2]",
    ]


@pytest.mark.parametrize(
    ("reply", "count", "expected"),
    [
        ("1. A?\n2) B?\n3 . C?", 3, ["A?", "B?", "C?"]),
        ("- A?\n* B?\n• C?", 3, ["A?", "B?", "C?"]),
        ("A?\n\nB?\n   C?  ", 3, ["A?", "B?", "C?"]),
        ("Here are my follow-up questions:\n1. A?\n2. B?", 3, ["A?", "B?"]),
        ("1. A?\n2. B?\n3. C?\n4. D?\n5. E?", 3, ["A?", "B?", "C?"]),
        ("  1.   A?  ", 3, ["A?"]),
        ("", 3, []),
        ("1. A?\n2. B?", 0, []),
    ],
)
def test_posed_questions(reply: str, count: int, expected: list[str]) -> None:
    assert posed_questions(reply, count) == expected


@pytest.mark.parametrize(
    "summary",
    [
        "1) a spilled glass of wine\n\n 2.   a waiter walking away\n3. clenched fists",
        "a spilled glass of wine\na waiter walking away\nclenched fists",
        "4. a spilled glass of wine\n7. a waiter walking away\n1. clenched fists",
    ],
)
def test_the_summary_is_renumbered(cast, sample, image, summary: str) -> None:
    cfsa_cast(cast, summary=summary)
    assert cast.answer(CFSA(CFSAConfig()), sample, image) == (
        "1. a spilled glass of wine\n2. a waiter walking away\n3. clenched fists"
    )


@pytest.mark.parametrize(
    "summary",
    [
        "- a spilled glass of wine\n* a waiter walking away\n• clenched fists",
        "Here are the triggers:\n" + SUMMARY,
    ],
)
def test_a_bulleted_or_introduced_summary_is_read_as_its_list(
    cast, sample, image, summary: str
) -> None:
    cfsa_cast(cast, summary=summary)
    assert cast.answer(CFSA(CFSAConfig()), sample, image) == (
        "1. a spilled glass of wine\n2. a waiter walking away\n3. clenched fists"
    )


def test_steps_reads_a_record_back(cast, sample, image) -> None:
    cfsa_cast(cast)
    strategy = CFSA(CFSAConfig())
    record = cast.record(sample, cast.answer(strategy, sample, image))
    assert strategy.steps(record) == Steps(
        enriched="ENRICHED: what caused his anger?",
        grounded="GROUNDED?",
        general=[(q, f"A{n}") for n, q in enumerate(DEFAULT_QUESTIONS, 1)],
        scenario=[
            ("What is on the table?", "A5"),
            ("Who stands behind him?", "A6"),
            ("What did the waiter just do?", "A7"),
        ],
        summary=SUMMARY,
    )
    failed = SampleRecord(sample, "failed", Response("", record.response.trace[:3]), (), "E", "x")
    assert strategy.steps(failed) is None


def run_two(cast, make_sample, image, strategy: CFSA) -> list[SampleRecord]:
    cfsa_cast(cast)
    a = make_sample(image="imgs/anger/a.jpg", question="Why does the person feel angry?")
    b = make_sample(image="imgs/joy/b.png", question="Why does the person feel joy?", emotion="joy")
    records = [cast.record(s, cast.answer(strategy, s, image)) for s in (a, b)]
    failed = make_sample(image="imgs/sad/c.png", emotion="sad")
    return [*records, SampleRecord(failed, "failed", Response("", ()), (), "ImageError", "x")]


def test_artifacts_are_the_review_file_without_emit_annotations(cast, make_sample, image) -> None:
    strategy = CFSA(CFSAConfig())
    records = run_two(cast, make_sample, image, strategy)
    files = strategy.artifacts(records)
    assert set(files) == {"cfsa_review.jsonl"}
    review = files["cfsa_review.jsonl"]
    assert [r["image"] for r in review] == ["imgs/anger/a.jpg", "imgs/joy/b.png"]  # failed: none
    first = review[0]
    fields = "id image emotion question enriched grounded general scenario summary trace"
    assert set(first) == set(fields.split())
    assert (first["emotion"], first["question"]) == ("angry", "Why does the person feel angry?")
    assert first["grounded"] == "GROUNDED?" and first["summary"] == SUMMARY
    assert [(c["role"], c["round"]) for c in first["trace"]] == DEFAULT_GRAPH
    assert first["trace"][0]["completion"]["text"] == "ENRICHED: what caused his anger?"
    assert first["trace"] == [dataclasses.asdict(c) for c in records[0].response.trace]
    json.dumps(files)  # every row is JSON as it stands


def test_emit_annotations_adds_eibench_shaped_files(
    cast, make_sample, image, tmp_path: Path
) -> None:
    strategy = CFSA(CFSAConfig(emit_annotations=True))
    files = strategy.artifacts(run_two(cast, make_sample, image, strategy))
    assert set(files) == {"cfsa_review.jsonl", "user.jsonl", "basic_ground_truth.json"}
    assert files["user.jsonl"] == [
        {"imgs/anger/a.jpg": "GROUNDED?"},
        {"imgs/joy/b.png": "GROUNDED?"},
    ]
    assert files["basic_ground_truth.json"] == {
        "imgs/anger/a.jpg": SUMMARY,
        "imgs/joy/b.png": SUMMARY,
    }
    questions, truth = tmp_path / "user.jsonl", tmp_path / "basic_ground_truth.json"
    questions.write_text("".join(json.dumps(r) + "\n" for r in files["user.jsonl"]), "utf-8")
    truth.write_text(json.dumps(files["basic_ground_truth.json"]), "utf-8")
    loaded = build("dataset", {"plugin": "eibench", "root": str(tmp_path)}).load()
    assert [(s.image, s.question, s.emotion) for s in loaded] == [
        ("imgs/anger/a.jpg", "GROUNDED?", "angry"),
        ("imgs/joy/b.png", "GROUNDED?", "joy"),
    ]
    assert loaded[0].triggers == (
        "a spilled glass of wine",
        "a waiter walking away",
        "clenched fists",
    )


def test_describe_carries_the_ground_truth_caveat() -> None:
    config = CFSAConfig(scenario_count=2)
    described = CFSA(config).describe()
    assert {k: v for k, v in described.items() if k != "note"} == dataclasses.asdict(config)
    note = described["note"].lower()
    assert "ground truth" in note and "cfsa" in note
