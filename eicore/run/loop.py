"""The evaluation loop: samples through a strategy and judges, under bounded concurrency.

Each finished sample is written to the run store at once; a failing sample is recorded with
its error and never stops the run; samples already answered in the store are skipped. Only a
store that cannot be read or written (:class:`~eicore.run.store.StoreError`: the run directory or
the call cache) stops the run, since no further result could be kept or trusted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from loguru import logger
from tqdm import tqdm

from eicore.datasets import images
from eicore.interfaces import Judge, Strategy
from eicore.run.calls import ModelClient, RoleHandle
from eicore.run.judges import JUDGE_ROLE, judge_role
from eicore.run.store import RunStore, StoreError
from eicore.secrets.masking import redact
from eicore.types import Call, Judgment, Response, Sample, SampleRecord


class EmptyAnswerError(Exception):
    """The strategy's final answer was empty; recorded as a failure, never as a prediction."""


@dataclass
class Progress:
    """What one invocation of the loop did."""

    total: int
    skipped: int = 0
    answered: int = 0
    failed: int = 0


@dataclass
class Components:
    """Everything the loop needs, built from a run's config."""

    strategy: Strategy
    clients: Mapping[str, ModelClient]
    """Role → model client: one entry for each of the strategy's roles, and ``judge:<name>``
    for each judge that asks a model."""
    judges: Sequence[Judge]
    image_root: str | Path | None
    on_sample: Callable[[SampleRecord, int], None] | None = None
    """Called with each stored record and the count of samples done (the lifecycle hook)."""


async def answer_sample(
    sample: Sample, parts: Components, made: list[str] | None = None
) -> SampleRecord:
    """Run one sample through the strategy and every judge; exceptions become failed records.

    ``made`` collects the cache keys of the calls the record counts as made."""
    trace: list[Call] = []
    made = made if made is not None else []
    strategy_roles = {
        role: RoleHandle(client, role, trace, made)
        for role, client in parts.clients.items()
        if not role.startswith(JUDGE_ROLE)
    }
    try:
        needed = parts.strategy.needs_image(strategy_roles)
        image = images.read(parts.image_root, sample.image) if needed else None
        text = await parts.strategy.answer(sample, image, strategy_roles)
        if not text.strip():
            raise EmptyAnswerError("the final answer is empty")
    except StoreError:
        raise
    except Exception as exc:
        return SampleRecord(
            sample, "failed", Response("", tuple(trace)), (), type(exc).__name__, redact(str(exc))
        )
    judgments = [
        await judge_answer(judge, sample, text, parts.clients, made) for judge in parts.judges
    ]
    return SampleRecord(sample, "answered", Response(text, tuple(trace)), tuple(judgments))


async def judge_answer(
    judge: Judge,
    sample: Sample,
    text: str,
    clients: Mapping[str, ModelClient],
    made: list[str] | None = None,
) -> Judgment:
    """One judge's verdict on an answer, with the calls it made to its model (the client of
    its role ``judge:<name>`` in ``clients``) as its trace; a judge that raises gives an
    `error` judgment. ``made`` collects the cache keys of the calls it counts as made."""
    trace: list[Call] = []
    client = clients.get(judge_role(judge))
    model = RoleHandle(client, judge_role(judge), trace, made) if client else None
    try:
        judgment = await judge.judge(sample, text, model)
        return dataclasses.replace(judgment, trace=tuple(trace))
    except StoreError:
        raise
    except Exception as exc:
        logger.warning("judge {} failed on {}: {}", judge.name, sample.id, exc)
        return Judgment(
            judge.name,
            None,
            len(sample.triggers),
            "error",
            f"{type(exc).__name__}: {redact(str(exc))}",
            trace=tuple(trace),
        )


def in_flight_for(clients: Iterable[ModelClient], concurrency: int) -> int:
    """Samples to keep in flight: ``concurrency``, or more when a model asks for more
    (:attr:`~eicore.interfaces.Model.in_flight`: a batch-API model, whose calls must meet)."""
    asked = [c.model.in_flight for c in clients if c.model.in_flight is not None]
    return max([concurrency, *asked])


async def run_samples(
    samples: Sequence[Sample],
    parts: Components,
    store: RunStore,
    concurrency: int,
    progress: Progress,
    show_progress: bool = True,
) -> None:
    """Answer every sample not yet answered in ``store``, ``concurrency`` at a time (or as many
    as a model asks for: :func:`in_flight_for`).

    ``progress`` is updated as samples finish, so it is accurate even after an interrupt.
    """
    for client in parts.clients.values():
        client.ledger = store
    done = store.answered_ids()
    todo = [s for s in samples if s.id not in done]
    progress.skipped = len(samples) - len(todo)
    if progress.skipped:
        logger.info("resuming: {} of {} samples already answered", progress.skipped, len(samples))
    for judge in parts.judges:
        await judge.prepare(todo)
    queue = iter(todo)
    bar = tqdm(
        total=len(samples),
        initial=progress.skipped,
        unit="sample",
        disable=not show_progress or None,
        file=sys.stderr,
        dynamic_ncols=True,
    )

    async def worker() -> None:
        for sample in queue:
            made: list[str] = []
            record = await answer_sample(sample, parts, made)
            store.put(record, made)
            if record.status == "answered":
                progress.answered += 1
            else:
                progress.failed += 1
                logger.debug("{} failed: {}: {}", sample.id, record.error_type, record.error)
            bar.update(1)
            if parts.on_sample is not None:
                parts.on_sample(record, progress.skipped + progress.answered + progress.failed)

    gc.freeze()  # what exists now (config, samples, plugins) outlives the loop: not rescanned
    collecting = gc.isenabled()
    gc.enable()  # the `eicore` command starts with it off (eicore_entry.main)
    in_flight = min(in_flight_for(parts.clients.values(), concurrency), len(todo))
    workers = [asyncio.create_task(worker()) for _ in range(max(1, in_flight))]
    try:
        await asyncio.gather(*workers)
    finally:  # one worker's error (or an interrupt) stops the others before anything else runs
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        bar.close()
        gc.unfreeze()
        if not collecting:
            gc.disable()
