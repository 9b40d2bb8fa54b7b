"""How many calls one model endpoint gets at once: found by AIMD (``run.concurrency=auto``), or
fixed, and in both cases held back while the endpoint says to wait.

A rate-limited API answers 429 (or 503) with a Retry-After once calls arrive faster than its
limit; a fixed concurrency is either below what the API allows (idle capacity) or above it (a
storm of 429s and retries). The controller starts low and, like TCP, doubles the window each
round trip until the first 429/503, then adds one call per round trip and halves the window on
each 429/503 (at most once per round trip: calls already in flight belong to the same event).
It grows only on calls that succeeded under the latency target, ``latency_factor`` times the
fastest seen: a slower call (a retried one, or a busy machine) holds the window where it is.
A call throttled on the way (a 429 its SDK retried) is no success to grow on. A Retry-After
pauses every new call to the endpoint until it has passed, and a call its SDK gave up on is
made again after that pause (:meth:`CallLimit.call`). The window never exceeds ``maximum``
(``run.max_concurrency``). Slow calls do not shrink the window: on a busy machine latencies
vary with the CPU, not the endpoint, and shrinking on them starved the run.

Under a set ``run.concurrency`` the window is :class:`Fixed` (``model.concurrency``, else no
limit beyond the run's samples in flight): it does not move, but a Retry-After pauses it too
and a call its SDK gave up on is made again after the pause, so a concurrency set above the
rate limit slows the run down instead of failing its samples.

:class:`AIMD` and :class:`Fixed` are pure (events in, window out; the caller gives the time),
so they are tested by feeding them events; :class:`CallLimit` applies one to calls on an event
loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

THROTTLE_STATUS = frozenset({429, 503, 529})
"""Statuses that mean "slow down" (529: Anthropic's overloaded)."""
THROTTLE_RETRIES = 16
"""Times :meth:`CallLimit.call` makes a call again that its SDK gave up on with a 429/503."""
T = TypeVar("T")


class Controller(Protocol):
    """What decides a :class:`CallLimit`'s window and pause, told each call's outcome."""

    paused_until: float
    """No new call starts before this time (the endpoint's Retry-After)."""
    throttles: int

    @property
    def window(self) -> int:
        """Calls allowed in flight now."""

    def success(self, now: float, latency: float) -> None:
        """A call finished in ``latency`` seconds at time ``now``."""

    def throttled(self, now: float, retry_after: float | None = None) -> None:
        """The endpoint said slow down (429/503), maybe with a Retry-After in seconds."""


class _Pauses:
    """What both controllers keep of a throttle: its count, and the endpoint's pause."""

    def __init__(self) -> None:
        self.paused_until = -math.inf
        self.throttles = 0

    def _pause(self, now: float, retry_after: float | None) -> float:
        """Count a throttle at ``now`` and pause for its Retry-After; the seconds asked."""
        self.throttles += 1
        wait = max(retry_after or 0.0, 0.0)
        if wait:
            self.paused_until = max(self.paused_until, now + wait)
        return wait


class Fixed(_Pauses):
    """A window of ``size`` calls that does not move (under a set ``run.concurrency``): it
    keeps only the endpoint's pause."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"need a window of at least 1, got {size}")
        super().__init__()
        self.window = size

    def success(self, now: float, latency: float) -> None:
        """Nothing to learn: the window is the user's."""

    def throttled(self, now: float, retry_after: float | None = None) -> None:
        self._pause(now, retry_after)


class AIMD(_Pauses):
    """Additive-increase, multiplicative-decrease of a concurrency window."""

    def __init__(
        self,
        maximum: int,
        initial: int = 2,
        minimum: int = 1,
        decrease: float = 0.5,
        latency_factor: float = 3.0,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError(f"need 1 <= minimum <= maximum, got {minimum}, {maximum}")
        super().__init__()
        self.maximum, self.minimum = maximum, minimum
        self.decrease, self.latency_factor = decrease, latency_factor
        self.limit = float(min(max(initial, minimum), maximum))
        self.slow_start = True
        """Until the first congestion, each success adds a whole call (doubling per round trip)."""
        self.fastest = math.inf
        """The lowest latency seen, the round trip of an uncongested call."""
        self._acked = 0
        """Successes since the window last grew (congestion avoidance: one call per window)."""
        self._hold_until = -math.inf
        """Congestion before this time belongs to the last decrease (calls already in flight)."""

    @property
    def window(self) -> int:
        """Calls allowed in flight now."""
        return max(self.minimum, min(self.maximum, int(self.limit)))

    def success(self, now: float, latency: float) -> None:
        """A call finished in ``latency`` seconds at time ``now``."""
        self.fastest = min(self.fastest, latency)
        if latency <= self.latency_factor * self.fastest and now >= self._hold_until:
            self._acked += 1
            if self.slow_start or self._acked >= self.window:
                self.limit = min(float(self.window + 1), float(self.maximum))
                self._acked = 0

    def throttled(self, now: float, retry_after: float | None = None) -> None:
        """The endpoint said slow down (429/503), maybe with a Retry-After in seconds."""
        self._back_off(now, self._pause(now, retry_after))

    def _back_off(self, now: float, wait: float) -> None:
        if now < self._hold_until:
            return
        self.slow_start = False
        self._acked = 0
        self.limit = max(float(self.minimum), self.limit * self.decrease)
        round_trip = self.fastest if math.isfinite(self.fastest) else 0.0
        self._hold_until = now + wait + round_trip


class _Call:
    """One call in its slot: its limit, and whether the endpoint throttled it meanwhile."""

    __slots__ = ("limit", "throttled")

    def __init__(self, limit: CallLimit) -> None:
        self.limit = limit
        self.throttled = False


_CURRENT: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "eicore_adaptive_call", default=None
)


def report_throttle(status: int, headers: object = None) -> None:
    """Tell eicore the endpoint answered ``status`` with ``headers`` during the current call.

    For plugins whose SDK retries 429/503 itself (so eicore never sees them): call it from the
    SDK's HTTP response hook with every response. Statuses that are not a throttle, and calls
    outside a run's limit (a local model's), are ignored.
    """
    call = _CURRENT.get()
    if call is not None and status in THROTTLE_STATUS:
        call.throttled = True
        call.limit.controller.throttled(call.limit.clock(), retry_after_seconds(headers))


async def throttle_hook(response: Any) -> None:
    """:func:`report_throttle` as an httpx ``response`` event hook, for SDKs built on httpx:
    ``http_client=DefaultAsyncHttpxClient(event_hooks={"response": [eicore.throttle_hook]})``
    shows eicore every HTTP answer, retried ones included."""
    report_throttle(response.status_code, response.headers)


def throttle_of(exc: BaseException) -> tuple[int, float | None] | None:
    """``(status, retry-after seconds)`` when ``exc`` is an SDK's 429/503 error, else None."""
    status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
    if not isinstance(status, int) or status not in THROTTLE_STATUS:
        return None
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    return status, retry_after_seconds(headers)


def retry_after_seconds(headers: object) -> float | None:
    """Seconds from ``retry-after-ms`` or a numeric ``Retry-After`` header, else None."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = get(name)
        try:
            return float(value) / scale
        except (TypeError, ValueError):
            continue
    return None


class CallLimit:
    """An asyncio limit on calls in flight whose size and pauses follow a :class:`Controller`."""

    def __init__(self, controller: Controller, clock: Callable[[], float] = time.monotonic) -> None:
        self.controller = controller
        self.clock = clock
        self.in_flight = 0
        self.peak = 0
        self._changed = asyncio.Condition()
        self._waiting = 0

    async def _acquire(self) -> None:
        controller = self.controller
        if not self._waiting and self.in_flight < controller.window:
            if controller.paused_until <= self.clock():  # room and no pause: no lock to take
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
                return
        self._waiting += 1
        try:
            await self._wait_for_room()
        finally:
            self._waiting -= 1

    async def _wait_for_room(self) -> None:
        while True:
            pause = self.controller.paused_until - self.clock()
            if pause > 0:  # slept holding no lock: calls that end meanwhile release at once
                await asyncio.sleep(pause)
                continue
            async with self._changed:
                if self.in_flight < self.controller.window:
                    break
                await self._changed.wait()
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)

    async def _release(self) -> None:
        self.in_flight -= 1
        if self._waiting:
            async with self._changed:
                self._changed.notify(max(1, self.controller.window - self.in_flight))

    async def call(self, make: Callable[[], Awaitable[T]], retries: int = THROTTLE_RETRIES) -> T:
        """``await make()`` in a slot; made again, once the endpoint's pause has passed, while
        the endpoint still throttles it after its SDK's own retries (up to ``retries`` more
        times): under a rate limit the run slows down, its samples do not fail."""
        for attempt in range(retries + 1):
            try:
                async with self.slot():
                    return await make()
            except Exception as exc:
                if attempt == retries or throttle_of(exc) is None:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One call's turn: waits for room, reports its outcome to the controller. A call the
        endpoint throttled on the way (a 429 its SDK retried) is no success to grow on: it
        says the window is already too wide."""
        await self._acquire()
        call = _Call(self)
        token = _CURRENT.set(call)
        started = self.clock()
        try:
            yield
        except Exception as exc:
            if (throttle := throttle_of(exc)) is not None:
                self.controller.throttled(self.clock(), throttle[1])
            raise
        else:
            if not call.throttled:
                now = self.clock()
                self.controller.success(now, now - started)
        finally:
            _CURRENT.reset(token)
            await self._release()
