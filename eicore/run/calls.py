"""How strategies and judges reach models: every call looked up in the cache, batched, and
traced."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import sys

from eicore.interfaces import APIModel, Model
from eicore.run.batches import Batcher
from eicore.run.concurrency import AIMD, CallLimit, Fixed
from eicore.run.store import CallCache, RunStore
from eicore.secrets.masking import redact
from eicore.types import Call, Completion, Prompt


class AnswerError(Exception):
    """The model answered, but not with a usable answer (a refusal, a budget spent on thinking).

    The call was made and billed: ``completion`` holds what came back, token counts included,
    and the sample's trace records it (so metrics.json counts its tokens and cost) before the
    sample fails with this error. Never cached.
    """

    def __init__(self, message: str, completion: Completion) -> None:
        super().__init__(message)
        self.completion = completion
        self.traced = False
        """Whether a trace holds this call as made; samples that shared the call in flight
        (the same exception) record it as cached, so it is made, and costs, once."""


class RefusalError(AnswerError):
    """The model declined to answer (a refusal signal or a safety filter)."""


class ModelClient:
    """One model shared by all of a run's samples.

    A model whose ``max_batch_size`` is 1 is called once per prompt, as concurrently as the run
    allows (API models). A larger ``max_batch_size`` sends prompts through one queue: while a
    batch runs, the next fills up, so batches grow with the run's concurrency (local models).
    Per-prompt calls go through a :class:`~eicore.run.concurrency.CallLimit`: of the model's
    ``max_concurrency`` (if it has one; the run's samples in flight bound it too), or with
    ``adaptive`` (``run.concurrency=auto``) one found by AIMD up to that many calls; either way
    an endpoint's Retry-After pauses new calls, and a call its SDK gave up on with a 429/503 is
    made again after the pause. An API
    model with ``batch_api`` gets its calls as provider batches
    (:class:`~eicore.run.batches.Batcher`).
    """

    def __init__(self, model: Model, cache: CallCache | None, adaptive: int | None = None) -> None:
        self.model = model
        self.cache = cache if model.cacheable else None
        self.identity = json.dumps(model.identity(), sort_keys=True, default=str)
        self.calls_made = 0
        """Calls this process made."""
        self.calls_cached = 0
        self.ledger: RunStore | None = None
        """The run's store, once open: it keeps which calls the run made (:meth:`complete`)."""
        self._recovered: set[str] = set()
        self._pending: list[tuple[Prompt, asyncio.Future[Completion]]] = []
        self._inflight: dict[str, asyncio.Future[Completion]] = {}
        self._worker: asyncio.Task[None] | None = None
        self._sampled: dict[str, int] = {}
        """Batched calls of a model whose calls are not cacheable: each key's count, so each
        of its calls gets a custom id of its own."""
        self.batcher = (
            Batcher(model, self.identity, cache, self._accept)
            if isinstance(model, APIModel) and model.batch_api
            else None
        )
        most = getattr(model, "max_concurrency", None)
        self.limit: CallLimit | None = None
        """The limit on per-prompt calls (None for a model that takes batches)."""
        if model.max_batch_size == 1:
            controller = (
                AIMD(min(most or adaptive, adaptive))
                if adaptive is not None
                else Fixed(most or sys.maxsize)
            )
            self.limit = CallLimit(controller)

    @property
    def accepts_images(self) -> bool:
        return self.model.accepts_images

    def key(self, prompt: Prompt, round: int) -> str:
        payload = json.dumps(
            {"model": self.identity, "prompt": prompt.fingerprint(), "round": round}, sort_keys=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    async def complete(self, prompt: Prompt, round: int = 0) -> tuple[Completion, bool]:
        """The completion for ``prompt``, and whether it came from the cache.

        A cacheable prompt already in flight for another sample is not sent again: the second
        caller waits for the first call's result and counts it as cached.
        """
        if self.cache is None:
            return await self._call(prompt, self._sampled_key(prompt, round)), False
        key = self.key(prompt, round)
        if (hit := self.cache.get(key)) is not None:
            if self._made_by_this_run(key):
                return hit, False
            self.calls_cached += 1
            return masked(hit), True  # a cache written before a key was known as one
        if key in self._inflight:
            try:
                completion = await asyncio.shield(self._inflight[key])
            except AnswerError:
                self.calls_cached += 1
                raise
            self.calls_cached += 1
            return completion, True
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            completion = await self._call(prompt, key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: with no waiter it is not an error to report
            raise
        finally:
            del self._inflight[key]
        future.set_result(completion)
        if self.batcher is None:  # a batch's answers were kept as they arrived
            self._accept(key, completion)
        return completion, False

    def _accept(self, key: str, completion: Completion) -> Completion:
        """Keep an answer worth keeping in the cache, noting that this run made it; returns it
        masked (:func:`masked`)."""
        completion = masked(completion)
        if self.cache is not None and completion.text.strip():
            self.cache.put(key, completion, self.identity)
            if self.ledger is not None:
                self.ledger.note_made(key)
        return completion

    def _sampled_key(self, prompt: Prompt, round: int) -> str:
        """A batched sampled call's custom id: its key, made unique by a count (two equal
        prompts sampled are two requests); empty when the model is not batched."""
        if self.batcher is None:
            return ""
        key = self.key(prompt, round)
        n = self._sampled[key] = self._sampled.get(key, -1) + 1
        return hashlib.sha256(f"{key}:{n}".encode()).hexdigest()

    def _made_by_this_run(self, key: str) -> bool:
        """A cached answer this run paid for that no stored record counts (the process that made
        it was killed before its sample was saved): the first sample to use it counts it as
        made, so ``calls_made`` and the cost count every call once, whichever process made it."""
        if self.ledger is None or key in self._recovered or not self.ledger.made_uncounted(key):
            return False
        self._recovered.add(key)
        return True

    async def _call(self, prompt: Prompt, key: str) -> Completion:
        """One call of the model (``key``: its custom id in a provider batch); its completion
        masked (:func:`masked`) before anything, the cache included, sees it."""
        try:
            if self.batcher is not None:
                completion = await self.batcher.call(key, prompt)
            elif self.limit is None:
                completion = await self._batched(prompt)
            else:
                (completion,) = await self.limit.call(lambda: self.model.generate([prompt]))
        except AnswerError as exc:
            self.calls_made += 1
            batched = self.batcher is not None  # billed at the batch price too
            exc.completion = masked(dataclasses.replace(exc.completion, batch=batched))
            raise
        self.calls_made += 1
        return masked(completion)

    async def _batched(self, prompt: Prompt) -> Completion:
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._pending.append((prompt, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        size = self.model.max_batch_size
        while self._pending:
            await asyncio.sleep(0)  # let samples that are ready join this batch
            batch, self._pending = self._pending[:size], self._pending[size:]
            batch = [(p, f) for p, f in batch if not f.done()]
            if not batch:
                continue
            try:
                results = await self.model.generate([p for p, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(
                        f"{type(self.model).__name__}.generate returned {len(results)} "
                        f"completions for {len(batch)} prompts"
                    )
            except Exception as exc:
                for _, f in batch:
                    if not f.done():
                        f.set_exception(exc)
                continue
            for (_, f), result in zip(batch, results, strict=True):
                if not f.done():
                    f.set_result(result)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        if self.batcher is not None:
            await self.batcher.aclose()
        await self.model.aclose()


def masked(completion: Completion) -> Completion:
    """``completion`` with secrets masked in its text: here, where every completion enters
    eicore (from strategies' roles and judges alike), so a model or proxy echoing a key leaves
    no piece of it in the cache, a record, a judgment or any file written from them."""
    text = redact(completion.text)
    return completion if text == completion.text else dataclasses.replace(completion, text=text)


class RoleHandle:
    """A model as one sample's strategy sees it in one role; appends each call to the trace."""

    def __init__(
        self, client: ModelClient, role: str, trace: list[Call], made: list[str] | None = None
    ) -> None:
        self.client = client
        self.role = role
        self.trace = trace
        self.made = made if made is not None else []
        """Cache keys of the calls this sample counts as made (for the run store's ledger)."""
        self.accepts_images = client.accepts_images
        self.last_cached = False
        """Whether the last completion came from the cache (a judge need not wait to retry)."""

    async def complete(self, prompt: Prompt, *, round: int = 0) -> Completion:
        """The completion of ``prompt``; a call answered unusably is traced, then raised."""
        try:
            completion, cached = await self.client.complete(prompt, round)
        except AnswerError as exc:
            call = Call(self.role, round, prompt.fingerprint(), exc.completion, exc.traced)
            self.trace.append(call)
            exc.traced = True
            raise
        self.trace.append(Call(self.role, round, prompt.fingerprint(), completion, cached))
        self.last_cached = cached
        if not cached and self.client.cache is not None:
            self.made.append(self.client.key(prompt, round))
        return completion
