"""A token bucket for `newsd replay --rate N`: at most N events per second, on average.

`delay(now)` is pure bookkeeping (take a token, say how long to wait for it); `acquire()` sleeps
that long.  The clock and the sleep are parameters, so tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    """At most `rate` acquisitions per second, with bursts of up to `burst`."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._updated: float | None = None

    def delay(self, now: float) -> float:
        """Take one token at time `now`; the seconds to wait before using it (0 if available)."""
        if self._updated is not None:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._updated = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        """Wait until one more event may go out."""
        wait = self.delay(self._clock())
        if wait > 0:
            await self._sleep(wait)
