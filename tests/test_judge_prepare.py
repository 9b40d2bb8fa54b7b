"""A judge's ``prepare`` hook: called once with the samples about to be judged, before the first
verdict — by a run (only the samples a resumed run still has to answer) and by ``eicore score``
(the answered records) — and forwarded by a judge listed under ``judges.<name>``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from eicore import Judge, Judgment, ModelRole, Sample, build
from eicore.run.calls import ModelClient
from eicore.run.judges import NamedJudge
from eicore.run.loop import Components, Progress, run_samples
from eicore.run.rescore import rejudge
from eicore.run.store import RunStore
from eicore.testing.scripted import ScriptedConfig, ScriptedModel
from eicore.types import Response, SampleRecord


class Recording(Judge):
    """Counts every trigger as recalled; notes the hook calls and verdicts, in order."""

    def __init__(self) -> None:
        super().__init__(None)
        self.events: list[tuple[str, tuple[str, ...]]] = []

    async def prepare(self, samples: Sequence[Sample]) -> None:
        self.events.append(("prepare", tuple(s.id for s in samples)))

    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        self.events.append(("judge", (sample.id,)))
        return Judgment(self.name, len(sample.triggers), len(sample.triggers), "ok", "")


def samples() -> list[Sample]:
    return [
        Sample(f"s{i}", "basic", f"x/sad/{i}.png", f"Why is she sad? {i}", ("Rain.",), "sad")
        for i in range(4)
    ]


def run(judge: Judge, store: RunStore, chosen: list[Sample]) -> None:
    strategy = build("strategy", {"plugin": "direct"})
    clients = {"answerer": ModelClient(ScriptedModel(ScriptedConfig(vision=False)), None)}
    parts = Components(strategy, clients, [judge], None)
    asyncio.run(run_samples(chosen, parts, store, 2, Progress(len(chosen)), show_progress=False))


def test_a_run_prepares_its_judges_once_with_the_samples_it_will_judge(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    first = Recording()
    run(first, store, samples()[:1])
    assert first.events == [("prepare", ("s0",)), ("judge", ("s0",))]
    resumed = Recording()
    run(NamedJudge(resumed, "mine"), store, samples())  # s0 is answered: not judged again
    assert resumed.events[0] == ("prepare", ("s1", "s2", "s3"))
    assert sorted(resumed.events[1:]) == [("judge", (f"s{i}",)) for i in (1, 2, 3)]
    store.close()


def test_score_prepares_its_judges_with_the_answered_records() -> None:
    chosen = samples()
    records = [
        SampleRecord(chosen[0], "answered", Response("Rain.")),
        SampleRecord(chosen[1], "failed", Response(""), (), "Boom", "boom"),
        SampleRecord(chosen[2], "answered", Response("Rain.")),
    ]
    judge = Recording()
    asyncio.run(rejudge(records, [judge], {}, 2))
    assert judge.events[0] == ("prepare", ("s0", "s2"))
    assert sorted(judge.events[1:]) == [("judge", ("s0",)), ("judge", ("s2",))]
