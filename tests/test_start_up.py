"""The `eicore` command's start-up runs without the garbage collector (its passes over the
objects imports make free nothing); every command's work runs with it."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eicore import Judge, Judgment, ModelRole, Sample, build
from eicore.commands import cli
from eicore.run.calls import ModelClient
from eicore.run.loop import Components, Progress, run_samples
from eicore.run.store import RunStore
from eicore.testing.scripted import ScriptedConfig, ScriptedModel


class Noting(Judge):
    """Notes whether the collector is on while it judges."""

    def __init__(self) -> None:
        super().__init__(None)
        self.collecting: list[bool] = []

    async def judge(self, sample: Sample, answer: str, model: ModelRole | None = None) -> Judgment:
        self.collecting.append(gc.isenabled())
        return Judgment(self.name, 1, 1, "ok", "")


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The collector off, as the entry point leaves it; on again afterwards."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def loop(tmp_path: Path, judge: Judge) -> None:
    chosen = [Sample(f"s{i}", "basic", f"x/{i}.png", "Why?", ("Rain.",), "sad") for i in range(3)]
    strategy = build("strategy", {"plugin": "direct"})
    clients = {"answerer": ModelClient(ScriptedModel(ScriptedConfig(vision=False)), None)}
    store = RunStore(tmp_path / "run")
    try:
        parts = Components(strategy, clients, [judge], None)
        asyncio.run(run_samples(chosen, parts, store, 2, Progress(3), show_progress=False))
    finally:
        store.close()


def test_the_loop_collects_and_leaves_the_collector_as_it_found_it(
    tmp_path: Path, collector_off: None
) -> None:
    judge = Noting()
    loop(tmp_path / "off", judge)
    assert judge.collecting == [True, True, True]
    assert not gc.isenabled()
    gc.enable()
    loop(tmp_path / "on", Noting())
    assert gc.isenabled()


@pytest.mark.parametrize(
    ("argv", "collecting"), [(["plugins", "--json"], True), (["run", "--help"], False)]
)
def test_every_other_command_turns_the_collector_on_at_once(
    argv: list[str], collecting: bool, collector_off: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["eicore", *argv])
    cli.main()
    assert gc.isenabled() is collecting  # a run turns it on where its loop starts (above)


@pytest.mark.parametrize(
    ("argv", "once"),
    [(["model=echo"], True), (["-m", "model=a,b"], False), (["hydra.mode=MULTIRUN"], False)],
)
def test_a_run_composes_its_config_once_unless_it_may_be_a_sweep(
    argv: list[str], once: bool
) -> None:
    """Hydra composes a config once only to read ``hydra.mode``; without ``-m`` (or
    ``hydra.mode`` on the command line) that pass is skipped: the run's mode is RUN."""
    from hydra._internal.hydra import Hydra

    original = Hydra.get_mode
    with cli._composed_once(argv):
        assert (Hydra.get_mode is original) is not once
        if once:
            assert Hydra.get_mode(object(), "config", argv) is None  # type: ignore[arg-type]
    assert Hydra.get_mode is original
