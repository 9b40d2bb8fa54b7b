"""Judge faults in a run: an LLM judge that never gives a verdict, and judges that contradict
themselves. Retries are bounded and end ``unparsed`` (counted, never scored, never another
sample's score); contradictions resolve by the recorded parse policy, with a note in the raw text.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

from eicore_metrics.llm import LLMJudge, LLMJudgeConfig
from eicore_metrics.recall import recall_summary

from eicore.plugins import registry
from eicore.run.calls import ModelClient
from eicore.run.loop import Components, Progress, run_samples
from eicore.run.store import CallCache, RunStore
from eicore.testing.scripted import ScriptedConfig, ScriptedModel
from eicore.types import Sample

TRIGGERS = ("A broken vase.", "A shouting man.", "Rain outside.", "A lost dog.")
REPLIES = {
    "QGOOD": "Two of them. {score: 2/4}",
    "QENDLESS": "The answer is thoughtful and mostly right.",
    "QCONTRA": "First I said {score: 3/4}; on reflection {score: 1/4}",
    "QJSON": 'Score: 4/4 (I think)\n{"matched": [2]}',
    "QOVER": "{score: 7/4}",
}
"""A substring of the sample's question (it is in the answer the judge reads) → the reply."""


def samples() -> list[Sample]:
    return [
        Sample(
            f"s-{tag}", "basic", f"x/angry/{i}.png", f"Why is he angry? {tag}", TRIGGERS, "angry"
        )
        for i, tag in enumerate(REPLIES)
    ]


def run(tmp_path: Path) -> tuple[dict[str, object], Counter[str], RunStore]:
    judge_log = tmp_path / "judge.jsonl"
    cache = CallCache(tmp_path / "calls.sqlite")
    answerer = ScriptedModel(ScriptedConfig(vision=False))
    judge = LLMJudge(LLMJudgeConfig(max_attempts=3, backoff_s=0.0))
    judging = ScriptedModel(ScriptedConfig(replies=REPLIES, log=str(judge_log)))
    strategy = registry().build("strategy", {"plugin": "direct"})
    clients = {"answerer": ModelClient(answerer, cache), "judge:llm": ModelClient(judging, cache)}
    parts = Components(strategy, clients, [judge], None)
    store = RunStore(tmp_path / "run")
    chosen = samples()
    asyncio.run(run_samples(chosen, parts, store, 4, Progress(len(chosen)), show_progress=False))
    calls = Counter(
        next(tag for tag in REPLIES if tag in "".join(json.loads(line)["text"]))
        for line in judge_log.read_text().splitlines()
    )
    cache.close()
    return {r.sample.id: r for r in store.records().values()}, calls, store


def test_endless_format_failures_end_unparsed_after_bounded_attempts(tmp_path: Path) -> None:
    records, calls, store = run(tmp_path)
    endless = records["s-QENDLESS"].judgments[0]  # type: ignore[attr-defined]
    assert (endless.status, endless.recalled, endless.score) == ("unparsed", None, None)
    assert endless.raw.count("--- attempt") == 3 and calls["QENDLESS"] == 3
    assert all(calls[tag] == 1 for tag in REPLIES if tag != "QENDLESS")
    summary = recall_summary(list(records.values()), "llm")  # type: ignore[arg-type]
    assert summary["n_scored"] == 4 and summary["n_unjudged"] == 1
    store.close()


def test_contradictory_verdicts_follow_the_policy_and_say_so(tmp_path: Path) -> None:
    records, _, store = run(tmp_path)
    judged = {sid: r.judgments[0] for sid, r in records.items()}  # type: ignore[attr-defined]
    assert judged["s-QGOOD"].recalled == 2
    assert judged["s-QCONTRA"].recalled == 1  # the last score
    assert "2 scores in the reply; the last was taken" in judged["s-QCONTRA"].raw
    assert (judged["s-QJSON"].recalled, judged["s-QJSON"].matched) == (1, (1,))  # JSON wins
    assert judged["s-QOVER"].recalled == 4 and "clipped" in judged["s-QOVER"].raw
    store.close()


def test_a_rerun_judges_nothing_again(tmp_path: Path) -> None:
    _, first, store = run(tmp_path)
    store.close()
    _, total, store = run(tmp_path)  # same store, same cache, same judge log
    assert total == first  # every sample was answered and judged: nothing is asked again
    store.close()
