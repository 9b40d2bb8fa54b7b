"""The ``llm`` judge with scripted models: prompts, retries, ``unparsed``, clipping, the cache."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from eicore_metrics.llm import LLMJudge, LLMJudgeConfig

from eicore import Call, Judgment, Model, ModelRole, Sample
from eicore.testing.roles import traced_roles
from eicore.testing.scripted import ScriptedConfig, ScriptedModel, SequencedModel

SAMPLE = Sample(
    "s1", "basic", "x/Angry/1.png", "Why is the man angry?",
    ("He is shouting.", "A broken phone.", "Rain."), "angry",
)  # fmt: skip


class RoledJudge(LLMJudge):
    """The llm judge with its model role bound, as a run hands it over (role ``judge:llm``)."""

    role: ModelRole
    trace: list[Call]

    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        return await super().judge(sample, answer, model or self.role)


def judge_with(model: Model, cache: Path | None = None, **settings: object) -> RoledJudge:
    """The judge asking ``model`` through a call cache in the file ``cache`` (None: none), in
    the paper's score form (the per-trigger default: test_trigger_verdicts.py)."""
    settings = {"form": "score", **settings}
    judge = RoledJudge(LLMJudgeConfig(backoff_s=0.0, **settings))  # type: ignore[arg-type]
    judge.trace = []
    judge.role = traced_roles({"judge:llm": model}, judge.trace, cache)["judge:llm"]
    return judge


def test_prompt_shows_numbered_triggers_and_the_answer_only_by_default() -> None:
    model = SequencedModel(["{score: 1/3}"])
    judgment = asyncio.run(judge_with(model).judge(SAMPLE, "He yells."))
    (prompt,) = model.prompts
    assert "1. He is shouting.\n2. A broken phone.\n3. Rain." in prompt
    assert "He yells." in prompt and "(3)" in prompt
    assert SAMPLE.question not in prompt and "Target emotion" not in prompt
    assert (judgment.status, judgment.recalled, judgment.total) == ("ok", 1, 3)
    assert judgment.score == 1 / 3


def test_include_question_and_structured_change_the_prompt_and_its_hash() -> None:
    plain, rich = SequencedModel(["{score: 0/3}"]), SequencedModel(['{"matched": [1, 3]}'])
    asyncio.run(judge_with(plain).judge(SAMPLE, "a"))
    judge = judge_with(rich, include_question=True, structured=True)
    judgment = asyncio.run(judge.judge(SAMPLE, "a"))
    assert SAMPLE.question in rich.prompts[0] and "Target emotion: angry" in rich.prompts[0]
    assert '"matched"' in rich.prompts[0] and '"matched"' not in plain.prompts[0]
    assert judgment.matched == (0, 2) and judgment.recalled == 2
    assert judge.template_sha256() != judge_with(plain).template_sha256()


def test_format_failures_are_retried_then_parsed() -> None:
    model = SequencedModel(["I think it is fine.", "Two of them.", "{score: 2/3}"])
    judgment = asyncio.run(judge_with(model, max_attempts=3).judge(SAMPLE, "a"))
    assert len(model.prompts) == 3
    assert (judgment.status, judgment.recalled) == ("ok", 2)
    assert "verdict on attempt 3" in judgment.raw


def test_scripted_model_without_a_verdict_ends_unparsed(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    model = ScriptedModel(ScriptedConfig(default="Looks good to me.", log=str(log)))
    judgment = asyncio.run(judge_with(model, max_attempts=4).judge(SAMPLE, "a"))
    assert judgment.status == "unparsed" and judgment.recalled is None and judgment.score is None
    assert judgment.total == 3
    assert len(log.read_text().splitlines()) == 4
    assert judgment.raw.count("Looks good to me.") == 4 and "--- attempt 4 ---" in judgment.raw


def test_correct_is_clipped_and_a_wrong_total_is_flagged() -> None:
    clipped = asyncio.run(judge_with(SequencedModel(["{score: 7/5}"])).judge(SAMPLE, "a"))
    assert (clipped.recalled, clipped.total, clipped.score) == (3, 3, 1.0)
    assert "clipped to 3" in clipped.raw and "stated total 5" in clipped.raw
    exact = asyncio.run(judge_with(SequencedModel(["{score: 2/3}"])).judge(SAMPLE, "a"))
    assert "[eicore]" not in exact.raw


def test_replies_are_cached_per_attempt(tmp_path: Path) -> None:
    cache = tmp_path / "calls.sqlite"
    first = SequencedModel(["no verdict", "{score: 1/3}"])
    asyncio.run(judge_with(first, cache).judge(SAMPLE, "a"))
    replay = SequencedModel(["never asked"])
    replay.identity = first.identity  # type: ignore[method-assign]  # the same model
    judgment = asyncio.run(judge_with(replay, cache).judge(SAMPLE, "a"))
    assert replay.prompts == [] and judgment.recalled == 1


def test_describe_records_template_and_policy() -> None:
    # the judge's model identity is added by the run: tests/test_judge_roles.py
    described = judge_with(ScriptedModel(ScriptedConfig())).describe()
    assert len(described["prompt_template_sha256"]) == 64
    assert "last" in described["parse_policy"] and described["include_question"] is False
    json.dumps(described)


def test_the_judges_calls_are_traced_in_its_role() -> None:
    judge = judge_with(SequencedModel(["no verdict", "{score: 1/3}"]), max_attempts=2)
    judgment = asyncio.run(judge.judge(SAMPLE, "a"))
    assert judgment.recalled == 1
    assert [(c.role, c.round, c.cached) for c in judge.trace] == [
        ("judge:llm", 0, False),
        ("judge:llm", 1, False),
    ]
