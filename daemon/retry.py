"""The one backoff helper: exponential delays with full jitter, capped, honouring retry_after.

It runs at exactly two boundaries, the article fetch and the Kafka sink (each send, and connecting
at start-up).  A failed feed poll is never retried inline: it is rescheduled.  An error says itself
whether it is worth retrying (`retryable`) and how long the server asked us to wait
(`retry_after`, seconds); `retry()` reads those two attributes and nothing else.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[[BaseException, int], None]
"""Told of each error about to be retried, with the retry's number (1 for the first)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay policy: attempt n (0-based) waits uniform(0, min(cap, base * 2**n))."""

    retries: int = 2
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The full-jitter delay before retry number `attempt + 1`."""
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt, 62))
        return rng.uniform(0.0, ceiling)


def is_retryable(exc: BaseException) -> bool:
    """True when the error says the same operation may succeed later."""
    return bool(getattr(exc, "retryable", False))


def retry_after_of(exc: BaseException) -> float | None:
    """The delay the server asked for (seconds), if the error carries one."""
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) else None


async def retry(
    operation: Callable[[], Awaitable[T]],
    backoff: Backoff,
    *,
    rng: random.Random | None = None,
    sleep: Sleep = asyncio.sleep,
    on_retry: OnRetry | None = None,
) -> T:
    """Await `operation()`, retrying retryable errors up to `backoff.retries` times.

    A non-retryable error, the last error, or one whose retry_after exceeds `backoff.cap` (we
    will not hold a worker that long) is raised unchanged.  Otherwise `on_retry` is told (to log
    it) and the wait is the larger of the jittered delay and the retry_after.
    """
    rng = rng or random.Random()
    attempt = 0
    while True:
        try:
            return await operation()
        except Exception as exc:
            delay = _next_delay(exc, attempt, backoff, rng)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(exc, attempt + 1)
        await sleep(delay)
        attempt += 1


def _next_delay(
    exc: BaseException, attempt: int, backoff: Backoff, rng: random.Random
) -> float | None:
    if not is_retryable(exc) or attempt >= backoff.retries:
        return None
    asked = retry_after_of(exc)
    if asked is not None and asked > backoff.cap:
        return None
    return max(backoff.delay(attempt, rng), asked or 0.0)


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds from `now` a Retry-After header asks for (delta-seconds or HTTP-date, RFC 9110
    §10.2.3); None when absent or unparseable; never negative."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    return seconds_until(value, now=now)


def seconds_until(http_date: str, *, now: datetime) -> float | None:
    """Seconds from `now` to an HTTP-date (Retry-After, Expires); None when unparseable; never
    negative.  A date without a zone is GMT, as RFC 9110 §5.6.7 requires."""
    try:
        when = parsedate_to_datetime(http_date.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
