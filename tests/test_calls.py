"""Model calls as the runner makes them: a refused call is traced with its usage before its
sample fails, so the run's token totals and cost count it; a call shared in flight is billed
once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eicore import Completion, Model, Prompt, RefusalError, Sample
from eicore.log import Completeness, RunLog, usage_of
from eicore.plugins import registry
from eicore.run.calls import ModelClient
from eicore.run.loop import Components, answer_sample
from eicore.run.store import CallCache
from eicore.types import Call, SampleRecord


@dataclass
class RefusingConfig:
    price_input_per_mtok: float = 2.0
    price_output_per_mtok: float = 10.0


class RefusingModel(Model):
    """Answers after ``delay`` seconds; refuses (billed: 300 in, 12 out) prompts about fire."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(RefusingConfig())
        self.delay = delay
        self.prompts: list[Prompt] = []

    async def generate(self, prompts: Sequence[Prompt]) -> list[Completion]:
        self.prompts.extend(prompts)
        await asyncio.sleep(self.delay)
        (prompt,) = prompts
        if "fire" in prompt.messages[-1].text:
            refusal = Completion("I can't help with that.", 300, 12, self.delay, "refusal")
            raise RefusalError("the model refused: I can't help with that.", refusal)
        return [Completion("1. A broken vase", 200, 5, self.delay, "stop")]


def sample(n: int, question: str) -> Sample:
    return Sample(f"s{n}", "basic", f"x/angry/{n}.png", question, ("a broken vase",), "angry")


def answer_all(
    samples: Sequence[Sample], model: Model, cache: CallCache | None
) -> list[SampleRecord]:
    client = ModelClient(model, cache)
    parts = Components(registry().build("strategy", {"plugin": "direct"}), {"answerer": client},
                       [], None)  # fmt: skip

    async def run() -> list[SampleRecord]:
        return list(await asyncio.gather(*(answer_sample(s, parts) for s in samples)))

    records = asyncio.run(run())
    assert client.calls_made == len(model.prompts)  # type: ignore[attr-defined]
    return records


def cost(call: Call) -> float | None:
    return RefusingModel().cost(call.completion)


def summary_of(records: list[SampleRecord], cost: Callable[[Call], float | None]) -> Any:
    """metrics.json's counts of ``records``, each call made priced by ``cost``."""
    return RunLog(Completeness.of(records, True), usage_of(records, cost), {}).summary()


def test_a_refused_call_is_traced_with_its_usage_and_counted(tmp_path: Path) -> None:
    samples = [sample(1, "Why is he angry?"), sample(2, "Why is he angry about the fire?")]
    answered, refused = answer_all(samples, RefusingModel(), CallCache(tmp_path / "calls.sqlite"))
    assert answered.status == "answered"
    assert (refused.status, refused.error_type) == ("failed", "RefusalError")
    assert refused.error is not None and "can't help" in refused.error
    assert refused.response is not None
    (call,) = refused.response.trace
    assert (call.role, call.cached, call.completion.finish_reason) == ("answerer", False, "refusal")
    assert (call.completion.input_tokens, call.completion.output_tokens) == (300, 12)
    counts = summary_of([answered, refused], cost)
    assert counts["tokens"] == {"input": 500, "output": 17}
    assert (counts["calls_made"], counts["calls_cached"]) == (2, 0)
    assert counts["cost_usd"]["estimated"] == round((500 * 2 + 17 * 10) / 1e6, 6)
    assert counts["cost_usd"]["calls_priced"] == 2


def test_a_refusal_shared_in_flight_counts_once_and_is_never_cached(tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "calls.sqlite")
    model = RefusingModel(delay=0.05)
    question = "Why is he angry about the fire?"
    records = answer_all([sample(1, question), sample(2, question)], model, cache)
    assert len(model.prompts) == 1  # the second sample waited for the first one's call
    assert [r.error_type for r in records] == ["RefusalError", "RefusalError"]
    traces = [r.response.trace for r in records if r.response is not None]
    assert [[c.cached for c in t] for t in traces] == [[False], [True]]
    counts = summary_of(records, cost)
    assert (counts["calls_made"], counts["calls_cached"]) == (1, 1)
    assert counts["cost_usd"] == {"estimated": 0.00072, "calls_priced": 1, "calls_unpriced": 0}
    again = RefusingModel()
    assert answer_all([sample(3, question)], again, cache)[0].error_type == "RefusalError"
    assert len(again.prompts) == 1  # asked again: a refusal is not an answer to keep
