"""Provider batches (``model.batch_api=true``): a run's calls to one model gathered into batches.

Calls that arrive together (the run keeps every sample in flight: :attr:`Model.in_flight`)
form one round; a round waits :data:`GATHER_S` of quiet for stragglers, then goes out as one
provider batch, or several when it exceeds the plugin's request or byte limits. Each request's
custom id is its call-cache key, so a batch's requests are a set of keys: the batch id is
recorded with that set beside the call cache (:class:`~eicore.run.store.CallCache`) before the
first status check, and a later run whose calls are among a recorded batch's polls that batch
instead of sending them again (a killed or interrupted run loses no paid call). Each answer
goes into the call cache as its batch's results are read; a request that failed in a way
worth retrying is sent again in a new batch, up to ``max_retries`` times, and otherwise fails
its sample with the provider's error. A round's batch is forgotten once all of its answers
are stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from loguru import logger

from eicore.interfaces import APIModel, BatchError
from eicore.run.store import CallCache, PendingBatch
from eicore.secrets.masking import redact
from eicore.types import Completion, Prompt

GATHER_S = 0.5
"""Seconds without a new call before a round goes out: a provider batch takes minutes to
hours, so waiting for samples still building their prompts costs nothing."""
BACKOFF = 1.5
"""Each wait between status checks is this much longer than the last (up to the maximum)."""

PENDING: dict[str, int] = {}
"""Batch id → requests, for the batches this process is waiting for (the interrupt message
names them: :func:`interrupted_message`)."""


def interrupted_message() -> str | None:
    """The line for a Ctrl-C while batches are pending: which, and how to collect them."""
    if not PENDING:
        return None
    ids = ", ".join(PENDING)
    noun = "batch" if len(PENDING) == 1 else "batches"
    return (
        f"eicore: interrupted; provider {noun} {ids} ({sum(PENDING.values())} requests) still "
        "running there: run the same command to collect the answers (finished samples are saved)"
    )


@dataclass
class _Call:
    key: str
    """The custom id: the call-cache key (a sampled call's is made unique)."""
    prompt: Prompt
    future: asyncio.Future[Completion]


class Batcher:
    """One model's calls as provider batches; :meth:`call` is one call, answered when its
    batch ends.

    ``accept(key, completion)`` keeps an answer (masked, into the call cache) and returns it
    as the samples get it; ``ledger`` records pending batches (the call cache file, also for a
    model whose answers are not cached; None: no resume).
    """

    def __init__(
        self,
        model: APIModel[Any],
        identity: str,
        ledger: CallCache | None,
        accept: Callable[[str, Completion], Completion],
    ) -> None:
        self.model = model
        self.identity = identity
        self.ledger = ledger
        self.accept = accept
        self._queue: list[_Call] = []
        self._gatherer: asyncio.Task[None] | None = None
        self._rounds: set[asyncio.Task[None]] = set()
        if ledger is None:
            logger.warning(
                "model.batch_api without a call cache (run.cache=false): a batch still pending "
                "when this run stops cannot be collected by the next one"
            )

    async def call(self, key: str, prompt: Prompt) -> Completion:
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._queue.append(_Call(key, prompt, future))
        if self._gatherer is None or self._gatherer.done():
            self._gatherer = asyncio.create_task(self._gather())
        return await future

    async def _gather(self) -> None:
        """Send the queue as a round once no call has joined it for :data:`GATHER_S`."""
        while self._queue:
            seen = -1
            while len(self._queue) != seen:
                seen = len(self._queue)
                await asyncio.sleep(GATHER_S)
            calls, self._queue = self._queue, []
            task = asyncio.create_task(self._round(calls))
            self._rounds.add(task)
            task.add_done_callback(self._rounds.discard)

    async def _round(self, calls: list[_Call]) -> None:
        """Answer ``calls`` (one round): batches, retries, and every future set in the end."""
        waiting: dict[str, list[_Call]] = {}
        bodies: dict[str, dict[str, object]] = {}
        for call in calls:
            if call.key in waiting:  # the same cacheable call from two samples: asked once
                waiting[call.key].append(call)
                continue
            try:
                bodies[call.key] = self.model.batch_request(call.prompt)
            except Exception as exc:  # e.g. an image for a text-only model: that sample fails
                _settle([call], exc)
                continue
            waiting[call.key] = [call]
        retries = int(getattr(self.model.config, "max_retries", 0) or 0)
        try:
            for attempt in range(retries + 1):
                failed = await self._attempt(
                    {k: bodies[k] for k in waiting}, waiting, last=attempt == retries
                )
                waiting = {k: waiting[k] for k in failed}
                if not waiting:
                    return
                logger.info("retrying {} batch requests that failed", len(waiting))
        except Exception as exc:  # a batch could not be sent or checked: its samples fail
            for key in waiting:
                _settle(waiting[key], exc)
        except asyncio.CancelledError:
            for key in waiting:
                for call in waiting[key]:
                    call.future.cancel()
            raise

    async def _attempt(
        self, bodies: dict[str, dict[str, object]], waiting: dict[str, list[_Call]], last: bool
    ) -> set[str]:
        """Send ``bodies`` (or find them in recorded batches), wait for the batches and hand
        out the answers; returns the keys to try again."""
        batches = self._recorded(set(bodies))
        covered = set().union(*(b.keys for b in batches)) if batches else set()
        for chunk in self._chunks({k: v for k, v in bodies.items() if k not in covered}):
            batch_id = await self.model.submit_batch(chunk)
            batch = PendingBatch(batch_id, self.identity, frozenset(chunk), time.time())
            if self.ledger is not None:
                self.ledger.add_batch(batch)
            logger.info(
                "sent batch {} ({} requests); polling it (Ctrl-C stops waiting, the same "
                "command collects it later)",
                batch_id,
                len(chunk),
            )
            batches.append(batch)
        outcomes = await asyncio.gather(*(self._collect(b, bodies, waiting, last) for b in batches))
        return set().union(*outcomes)

    def _recorded(self, keys: set[str]) -> list[PendingBatch]:
        """Recorded batches of this model holding some of ``keys`` (each key in one only)."""
        found: list[PendingBatch] = []
        left = set(keys)
        for batch in self.ledger.batches(self.identity) if self.ledger is not None else []:
            if batch.keys & left:
                logger.info("resuming batch {}, sent by an earlier run", batch.id)
                found.append(batch)
                left -= batch.keys
        return found

    def _chunks(
        self, bodies: dict[str, dict[str, object]]
    ) -> Iterator[dict[str, dict[str, object]]]:
        """``bodies`` in pieces within the plugin's request and byte limits per batch."""
        chunk: dict[str, dict[str, object]] = {}
        size = 0
        for key, body in bodies.items():
            length = len(json.dumps(body)) + len(key) + 64  # the line's own fields
            if chunk and (
                len(chunk) >= self.model.max_batch_requests
                or size + length > self.model.max_batch_bytes
            ):
                yield chunk
                chunk, size = {}, 0
            chunk[key] = body
            size += length
        if chunk:
            yield chunk

    async def _collect(
        self,
        batch: PendingBatch,
        bodies: dict[str, dict[str, object]],
        waiting: dict[str, list[_Call]],
        last: bool,
    ) -> set[str]:
        """Wait for ``batch``, store and hand out its answers to ``waiting``; the keys of its
        requests to send again."""
        mine = batch.keys & set(bodies)
        PENDING[batch.id] = len(batch.keys)
        try:
            await self._wait(batch.id)
            results = await self.model.batch_results(batch.id)
        except asyncio.CancelledError:  # still pending (and recorded): the interrupt names it
            raise
        except BatchError as exc:  # the batch failed as a whole
            PENDING.pop(batch.id, None)
            self._forget(batch)
            if exc.retryable and not last:
                return set(mine)
            for key in mine:
                _settle(waiting[key], exc)
            return set()
        except BaseException:
            PENDING.pop(batch.id, None)
            raise
        PENDING.pop(batch.id, None)
        for key, outcome in results.items():  # answers another run asked for are kept too
            if key not in mine and isinstance(outcome, Completion):
                self.accept(key, dataclasses.replace(outcome, batch=True))
        retry: set[str] = set()
        missing = BatchError(f"batch {batch.id} returned no result for a request", True)
        for key in mine:
            outcome = results.get(key, missing)
            if isinstance(outcome, Completion):
                answer = self.accept(key, dataclasses.replace(outcome, batch=True))
                for call in waiting[key]:
                    if not call.future.done():
                        call.future.set_result(answer)
            elif isinstance(outcome, BatchError) and outcome.retryable and not last:
                retry.add(key)
            else:
                _settle(waiting[key], outcome)
        self._forget(batch)
        return retry

    async def _wait(self, batch_id: str) -> None:
        """Check ``batch_id`` until it ended, each wait longer than the last."""
        config = self.model.config
        wait, longest = float(config.batch_poll_s), float(config.batch_poll_max_s)
        status = ""
        while True:
            await asyncio.sleep(min(wait, longest))
            wait *= BACKOFF
            state = await self.model.poll_batch(batch_id)
            if state.status != status:
                status = state.status
                logger.info("batch {}: {}", batch_id, status)
            if state.ended:
                return

    def _forget(self, batch: PendingBatch) -> None:
        if self.ledger is not None:
            self.ledger.drop_batch(batch.id)

    async def aclose(self) -> None:
        tasks = [t for t in (self._gatherer, *self._rounds) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _settle(calls: list[_Call], error: BaseException) -> None:
    """Fail ``calls`` with ``error`` (its message masked: a provider's error may quote a key)."""
    if isinstance(error, BatchError):
        error = BatchError(redact(str(error)), error.retryable)
    for call in calls:
        if not call.future.done():
            call.future.set_exception(error)
