"""The AIMD controller (``run.concurrency=auto``) and the fixed window fed events (no clock), and
the limit on a loop."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from eicore.run.concurrency import (
    AIMD,
    CallLimit,
    Fixed,
    report_throttle,
    retry_after_seconds,
    throttle_of,
)
from eicore.run.settings import ConfigError, run_settings


def test_slow_start_doubles_each_round_trip_then_halves_on_a_429() -> None:
    aimd = AIMD(maximum=64, initial=2)
    now = 0.0
    for expected in (4, 8, 16):  # a round trip: every call in the window succeeds
        for _ in range(aimd.window):
            aimd.success(now, 0.2)
        now += 0.2
        assert aimd.window == expected
    aimd.throttled(now, retry_after=None)
    assert aimd.window == 8 and not aimd.slow_start and aimd.throttles == 1


def test_congestion_avoidance_adds_one_call_per_round_trip() -> None:
    aimd = AIMD(maximum=64, initial=8)
    aimd.throttled(0.0)  # leave slow start: 4
    now = 1.0
    for expected in (5, 6, 7):
        for _ in range(aimd.window):
            aimd.success(now, 0.2)
        now += 0.2
        assert aimd.window == expected


def test_one_decrease_per_round_trip_and_retry_after_pauses() -> None:
    aimd = AIMD(maximum=64, initial=32)
    aimd.success(0.0, 0.2)
    aimd.throttled(1.0, retry_after=0.5)
    aimd.throttled(1.1, retry_after=0.5)  # calls already in flight: same congestion event
    assert aimd.window == 16 and aimd.throttles == 2
    assert aimd.paused_until == pytest.approx(1.6)
    aimd.success(1.3, 0.2)  # inside the hold (retry-after + a round trip): no growth
    assert aimd.window == 16
    aimd.throttled(2.0)  # a new congestion event
    assert aimd.window == 8


def test_only_calls_under_the_latency_target_grow_the_window() -> None:
    aimd = AIMD(maximum=64, initial=10, latency_factor=3.0)
    aimd.success(0.0, 0.2)
    aimd.success(0.1, 0.5)  # under 3x the fastest: grows
    assert aimd.window == 12
    aimd.success(0.2, 1.5)  # over it (a retried call, a busy CPU): holds, does not shrink
    assert aimd.window == 12 and aimd.slow_start


def test_the_window_stays_within_its_bounds() -> None:
    aimd = AIMD(maximum=5, initial=2)
    for i in range(100):
        aimd.success(float(i), 0.1)
    assert aimd.window == 5
    for i in range(100):
        aimd.throttled(1000.0 + 10 * i)
    assert aimd.window == 1
    with pytest.raises(ValueError):
        AIMD(maximum=0)


def test_retry_after_headers_and_sdk_errors() -> None:
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after_seconds(None) is None
    error = SimpleNamespace(status_code=429, response=SimpleNamespace(headers={"retry-after": "1"}))
    assert throttle_of(error) == (429, 1.0)  # type: ignore[arg-type]
    assert throttle_of(ValueError("x")) is None
    assert throttle_of(SimpleNamespace(code=503)) == (503, None)  # type: ignore[arg-type]


def test_the_limit_holds_calls_to_the_window_and_learns_from_them() -> None:
    """Events, not time: calls wait on futures the test resolves; the clock is the test's."""
    clock = [0.0]
    limit = CallLimit(AIMD(maximum=64, initial=2), clock=lambda: clock[0])

    async def scenario() -> None:
        gates = [asyncio.get_running_loop().create_future() for _ in range(6)]

        async def call(i: int) -> None:
            async with limit.slot():
                await gates[i]

        tasks = [asyncio.create_task(call(i)) for i in range(6)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert limit.in_flight == 2  # the initial window
        clock[0] = 0.2
        gates[0].set_result(None)
        gates[1].set_result(None)
        for _ in range(10):
            await asyncio.sleep(0)
        assert limit.controller.window == 4 and limit.in_flight == 4
        report_throttle(200)  # outside a call and not a throttle status: nothing
        assert limit.controller.throttles == 0
        for gate in gates[2:]:
            gate.set_result(None)
        await asyncio.gather(*tasks)
        assert limit.in_flight == 0 and limit.peak == 4

    asyncio.run(scenario())


def test_a_reported_throttle_during_a_call_backs_off() -> None:
    limit = CallLimit(AIMD(maximum=64, initial=8), clock=lambda: 5.0)

    async def call() -> None:
        async with limit.slot():
            report_throttle(429, {"retry-after-ms": "0"})  # what a plugin's response hook does

    asyncio.run(call())
    assert limit.controller.throttles == 1 and limit.controller.window == 4


def test_a_429_error_backs_off_and_is_raised() -> None:
    limit = CallLimit(AIMD(maximum=64, initial=8), clock=lambda: 5.0)

    class RateLimited(Exception):
        status_code = 429
        response = SimpleNamespace(headers={"retry-after-ms": "0"})

    async def call() -> None:
        async with limit.slot():
            raise RateLimited

    with pytest.raises(RateLimited):
        asyncio.run(call())
    assert limit.controller.window == 4 and limit.in_flight == 0


def test_run_concurrency_auto_is_a_setting() -> None:
    auto = run_settings(OmegaConf.create({"run": {"concurrency": "auto", "max_concurrency": 16}}))
    assert (auto.concurrency, auto.adaptive) == (16, 16)
    fixed = run_settings(OmegaConf.create({"run": {"concurrency": 4}}))
    assert (fixed.concurrency, fixed.adaptive) == (4, None)
    for bad in ("fast", 0, 2.5):
        with pytest.raises(ConfigError, match="concurrency"):
            run_settings(OmegaConf.create({"run": {"concurrency": bad}}))


def test_the_fakes_token_bucket_answers_429_with_retry_after_beyond_its_rate() -> None:
    import http.client
    import json

    from eicore.testing.fake_api import FakeAPI

    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "Why?"}]})
    with FakeAPI(rate_limit=0.01, burst=2) as fake:  # two tokens, the next in 100 s
        connection = http.client.HTTPConnection("127.0.0.1", fake.port)
        statuses = []
        for _ in range(3):
            connection.request("POST", "/v1/chat/completions", body)
            response = connection.getresponse()
            statuses.append((response.status, response.getheader("retry-after")))
            payload = json.loads(response.read())
        connection.close()
        assert statuses[:2] == [(200, None), (200, None)]
        assert statuses[2][0] == 429 and 90 <= int(statuses[2][1] or 0) <= 100
        assert payload["error"]["type"] == "rate_limit_exceeded"
        assert fake.rate_limited == 1 and fake.requests[-1].reply is not None


def test_a_call_throttled_on_the_way_is_no_success_to_grow_on() -> None:
    """Four calls that each met a 429 their SDK retried, then answered fast: the window halved
    once (one congestion event) and does not grow back on them."""
    clock = [1.0]
    limit = CallLimit(AIMD(maximum=64, initial=8), clock=lambda: clock[0])
    limit.controller.success(0.0, 0.2)  # the round trip: 0.2 s
    limit.controller.slow_start = False

    async def scenario() -> None:
        gate = asyncio.get_running_loop().create_future()

        async def call() -> None:
            async with limit.slot():
                report_throttle(429, {"retry-after-ms": "0"})
                await gate

        tasks = [asyncio.create_task(call()) for _ in range(4)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert limit.controller.window == 4 and limit.controller.throttles == 4
        clock[0] = 1.3  # past the hold, each call 0.3 s: under the latency target
        gate.set_result(None)
        await asyncio.gather(*tasks)

    asyncio.run(scenario())
    assert limit.controller.window == 4  # four fast successes would have made it 5


def test_a_call_its_sdk_gave_up_on_is_made_again_after_the_pause() -> None:
    limit = CallLimit(AIMD(maximum=64, initial=8), clock=lambda: 5.0)
    attempts: list[int] = []

    class RateLimited(Exception):
        status_code = 429
        response = SimpleNamespace(headers={"retry-after-ms": "0"})

    async def make() -> str:
        attempts.append(limit.in_flight)
        if len(attempts) < 3:
            raise RateLimited
        return "answer"

    assert asyncio.run(limit.call(make)) == "answer"
    assert attempts == [1, 1, 1] and limit.controller.throttles == 2 and limit.in_flight == 0

    async def never() -> str:  # a limit that never lifts (a spent quota): given up on
        attempts.append(limit.in_flight)
        raise RateLimited

    attempts.clear()
    with pytest.raises(RateLimited):
        asyncio.run(limit.call(never, retries=2))
    assert len(attempts) == 3


def test_a_call_that_fails_otherwise_is_not_made_again() -> None:
    limit = CallLimit(AIMD(maximum=64, initial=8), clock=lambda: 5.0)
    attempts: list[int] = []

    async def make() -> str:
        attempts.append(1)
        raise ValueError("bad request")

    with pytest.raises(ValueError):
        asyncio.run(limit.call(make))
    assert attempts == [1] and limit.controller.throttles == 0


def test_a_fixed_window_keeps_its_size_but_waits_out_a_retry_after() -> None:
    fixed = Fixed(16)
    fixed.success(1.0, 0.1)
    fixed.throttled(2.0, retry_after=3.0)
    fixed.throttled(2.5, retry_after=None)  # no Retry-After: the pause stands as it was
    assert (fixed.window, fixed.throttles, fixed.paused_until) == (16, 2, 5.0)
    with pytest.raises(ValueError, match="at least 1"):
        Fixed(0)


def test_a_fixed_window_pauses_new_calls_and_makes_a_given_up_call_again() -> None:
    """A set concurrency above a rate limit: the call its SDK gave up on with a 429 is made
    again once the Retry-After has passed, and a call that starts meanwhile waits for it."""
    clock = [0.0]
    limit = CallLimit(Fixed(8), clock=lambda: clock[0])
    attempts: list[float] = []

    class RateLimited(Exception):
        status_code = 429
        response = SimpleNamespace(headers={"retry-after-ms": "50"})

    async def make() -> str:
        attempts.append(clock[0])
        if len(attempts) == 1:
            raise RateLimited
        return "answer"

    async def scenario() -> list[str]:
        first = asyncio.create_task(limit.call(make))
        for _ in range(5):
            await asyncio.sleep(0)
        assert limit.controller.paused_until == 0.05 and limit.in_flight == 0
        clock[0] = 0.05  # the pause, on the test's clock, has passed
        second = asyncio.create_task(limit.call(make))
        return list(await asyncio.gather(first, second))

    assert asyncio.run(scenario()) == ["answer", "answer"]
    assert attempts == [0.0, 0.05, 0.05]
    assert limit.controller.window == 8 and limit.in_flight == 0


def test_a_call_that_ends_during_a_pause_returns_at_once() -> None:
    """A call waiting out a Retry-After holds no lock: the calls that end meanwhile hand their
    answers back now (to be saved), not when the pause is over."""
    limit = CallLimit(Fixed(8), clock=lambda: 0.0)

    async def scenario() -> None:
        gate = asyncio.get_running_loop().create_future()

        async def answered() -> str:
            async with limit.slot():
                await gate
            return "answer"

        first = asyncio.create_task(answered())
        for _ in range(3):
            await asyncio.sleep(0)
        limit.controller.throttled(0.0, retry_after=3600.0)  # another call's 429: an hour's pause
        waiting = asyncio.create_task(limit.call(lambda: asyncio.sleep(0)))
        for _ in range(3):
            await asyncio.sleep(0)
        gate.set_result(None)
        for _ in range(10):
            await asyncio.sleep(0)
        assert first.done() and first.result() == "answer" and limit.in_flight == 0
        assert not waiting.done()  # still paused
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(scenario())
