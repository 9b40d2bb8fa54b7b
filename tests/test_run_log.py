"""The typed run log: judges' calls counted, costed and traced in it; metrics.json as its
summary, read back the same; older and newer metrics.json files."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from eicore_metrics.llm import LLMJudge, LLMJudgeConfig
from eicore_test_support import CLI, echo_args, only_run_dir, read_json, read_jsonl

from eicore import Completion, Model, Prompt, Sample
from eicore.log import Recall, RoleUsage, RunLogError, read, usage_of
from eicore.log.schema import from_summary
from eicore.plugins import registry
from eicore.run.calls import ModelClient
from eicore.run.job import call_cost
from eicore.run.loop import Components, answer_sample

LLM_ON_ECHO = ("judge=llm", "+model@judge.model=echo", "judge.max_attempts=1", "data.limit=3")


def test_a_judges_calls_are_in_the_trace_the_usage_and_the_calls_made(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    cli.run(*echo_args(eibench_dir, tmp_path / "runs", *LLM_ON_ECHO))
    run_dir = only_run_dir(tmp_path / "runs")
    metrics = read_json(run_dir / "metrics.json")
    (cache,) = (tmp_path / "cache").rglob("calls.sqlite")
    db = sqlite3.connect(cache)
    (cached,) = db.execute("select count(*) from calls").fetchone()
    db.close()
    assert cached == 6  # 3 answers, 3 verdicts
    assert metrics["calls_made"] == 6 and metrics["schema_version"] == 1
    usage = metrics["usage"]
    assert set(usage) == {"answerer", "judge:llm"}
    assert usage["answerer"]["calls_made"] == usage["judge:llm"]["calls_made"] == 3
    records = read_jsonl(run_dir / "records.jsonl")
    judge_calls = [c for r in records for j in r["judgments"] for c in j["trace"]]
    assert [c["role"] for c in judge_calls] == ["judge:llm"] * 3
    judge_tokens = sum(c["completion"]["input_tokens"] for c in judge_calls)
    assert usage["judge:llm"]["input_tokens"] == judge_tokens > 0
    assert metrics["tokens"]["input"] == usage["answerer"]["input_tokens"] + judge_tokens
    log = read(run_dir)
    assert log.usage["judge:llm"] == RoleUsage(**usage["judge:llm"])
    assert [c.role for c in log.samples[0].calls] == ["answerer", "judge:llm"]
    # the same run again: every call cached, none made, the judge's too
    cli.run(*echo_args(eibench_dir, tmp_path / "again", *LLM_ON_ECHO))
    again = read(only_run_dir(tmp_path / "again"))
    assert again.usage["judge:llm"].calls_cached == 3 and again.total_usage.calls_made == 0


def test_re_scoring_counts_the_new_judges_calls(
    cli: CLI, eibench_dir: Path, tmp_path: Path
) -> None:
    cli.run(*echo_args(eibench_dir, tmp_path / "runs", "data.limit=3"))
    run_dir = only_run_dir(tmp_path / "runs")
    ran = read(run_dir)
    result = cli("score", str(run_dir), "judge=llm", "+model@judge.model=echo",
                 "judge.max_attempts=1")  # fmt: skip
    (out,) = (run_dir / "scores").iterdir()
    scored = read(out)
    assert scored.usage["judge:llm"].calls_made == 3
    assert scored.usage["answerer"] == ran.usage["answerer"]  # as the run counted its answers
    assert "judge:llm: 3 calls made, 0 cached" in result.stdout
    assert all(j.trace[0].role == "judge:llm" for r in scored.samples for j in r.judgments)


@dataclass
class Priced:
    price_input_per_mtok: float = 2.0
    price_output_per_mtok: float = 10.0


class Verdicts(Model):
    """Replies ``{score: 1/n}`` with 100 input and 5 output tokens; priced by its config."""

    def __init__(self) -> None:
        super().__init__(Priced())

    def identity(self) -> dict[str, object]:
        return {"plugin": "verdicts"}

    async def generate(self, prompts: Sequence[Prompt]) -> list[Completion]:
        return [Completion("{score: 1/2}", 100, 5) for _ in prompts]


def test_a_judges_calls_are_costed_in_its_role() -> None:
    sample = Sample("s", "basic", "x/angry/1.png", "Why angry?", ("Fist", "Rain"), "angry")
    strategy = registry().build("strategy", {"plugin": "direct"})
    clients = {
        "answerer": ModelClient(Verdicts(), None),
        "judge:llm": ModelClient(Verdicts(), None),
    }
    judge = LLMJudge(LLMJudgeConfig(backoff_s=0.0))
    record = asyncio.run(answer_sample(sample, Components(strategy, clients, [judge], None)))
    usage = usage_of([record], call_cost(clients))
    one = round((100 * 2.0 + 5 * 10.0) / 1e6, 6)
    assert usage["judge:llm"] == RoleUsage(1, 0, 100, 5, one, 1, 0)
    assert usage["answerer"].cost_usd == one
    assert record.judgments[0].recalled == 1


def test_a_metrics_json_from_before_the_typed_log_reads(tmp_path: Path) -> None:
    recall = {"judge": "semantic", "overall": 0.25, "macro": 0.2, "n_scored": 4}
    old = {
        "complete": True, "n_samples": 4, "n_answered": 4, "n_failed": 0, "errors": {},
        "calls_made": 4, "calls_cached": 0, "tokens": {"input": 40, "output": 8},
        "cost_usd": {"estimated": 0.5, "calls_priced": 4, "calls_unpriced": 0},
        "recall": recall, "recall_by_judge": {"semantic": recall}, "coherence": {"mean": 0.5},
    }  # fmt: skip
    (tmp_path / "metrics.json").write_text(json.dumps(old), encoding="utf-8")
    log = read(tmp_path)
    assert log.recall == Recall("semantic", 0.25, 0.2, n_scored=4)
    assert log.usage == {"all": RoleUsage(4, 0, 40, 8, 0.5, 4, 0)}
    assert log.results["unnamed"] == {"coherence": {"mean": 0.5}}
    summary = log.summary()
    for key in ("n_samples", "calls_made", "tokens", "cost_usd", "coherence"):
        assert summary[key] == old[key]
    assert summary["recall"].items() >= recall.items()  # with the typed recall's defaults
    assert from_summary(summary).summary() == summary  # the typed form round-trips


def test_a_newer_or_malformed_log_is_refused_with_its_file(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text('{"schema_version": 99}', encoding="utf-8")
    with pytest.raises(RunLogError, match=r"metrics\.json: schema_version 99 .*upgrade eicore"):
        read(tmp_path)
    (tmp_path / "metrics.json").write_text('{"schema_version": 1, "usage": {"x": 3}}')
    with pytest.raises(RunLogError, match=r"metrics\.json: not an eicore run log"):
        read(tmp_path)
    with pytest.raises(RunLogError, match="not a run directory"):
        read(tmp_path / "nowhere")
