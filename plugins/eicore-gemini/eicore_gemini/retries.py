"""Retries of Gemini calls: capped exponential backoff that honours the server's wait.

google-genai retries only when given ``HttpRetryOptions``, and then on a fixed schedule that
ignores Retry-After. So the SDK makes one attempt per call and the retries happen here, the way
the anthropic and openai SDKs make theirs: on 408, 429 and 5xx answers, timeouts and dropped
connections; waiting what the server asks (``retry-after-ms``, ``Retry-After`` in seconds or as
a date, or the ``RetryInfo.retryDelay`` of a Gemini error body), else 0.5 s doubling up to 8 s,
less up to 25% jitter.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from eicore import report_throttle

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
MAX_SERVER_DELAY = 120.0
"""A longer wait asked by the server is cut to this."""

_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


async def with_retries(call: Callable[[], Awaitable[T]], retries: int) -> T:
    """``await call()``, retried up to ``retries`` times; the last error is raised as it is."""
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            status = getattr(exc, "code", None)
            if isinstance(status, int):  # a 429/503 slows run.concurrency=auto
                report_throttle(status)
            if attempt >= retries or not retryable(exc):
                raise
            await asyncio.sleep(delay(attempt, server_delay(exc)))
            attempt += 1


def retryable(exc: BaseException) -> bool:
    import httpx2
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        return exc.code in RETRYABLE_STATUS
    return isinstance(exc, httpx2.TransportError)  # timeouts, refused or dropped connections


def delay(attempt: int, asked: float | None) -> float:
    """Seconds before retry ``attempt + 1``: the server's wait, else jittered backoff."""
    if asked is not None and asked > 0:
        return min(asked, MAX_SERVER_DELAY)
    return min(INITIAL_DELAY * 2.0**attempt, MAX_DELAY) * (1 - 0.25 * random.random())


def server_delay(exc: BaseException) -> float | None:
    """The wait an error's response asks for, in seconds, if it asks for one."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            when = email.utils.parsedate_tz(value)
            if when is not None:
                return email.utils.mktime_tz(when) - time.time()
    return _retry_info(getattr(exc, "details", None))


def _retry_info(body: Any) -> float | None:
    """``retryDelay`` (e.g. ``"12.5s"``) of a google.rpc.RetryInfo in an error body."""
    error = body.get("error", body) if isinstance(body, dict) else None
    for detail in (error or {}).get("details") or []:
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith("RetryInfo"):
            continue
        if match := _SECONDS.match(str(detail.get("retryDelay", ""))):
            return float(match[1])
    return None
