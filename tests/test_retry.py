"""The backoff helper: full jitter, cap, retry_after, and which errors are retried."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.errors import FetchError, SinkError
from daemon.retry import Backoff, parse_retry_after, retry


class Flaky:
    """Fails with the given errors in turn, then returns 'done'."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def test_retryable_errors_are_retried_until_success() -> None:
    """Two retryable failures then success: three calls, two sleeps, the result returned."""
    op, sleeps = (
        Flaky(FetchError("timeout", retryable=True), SinkError("x", retryable=True)),
        Sleeps(),
    )
    assert await retry(op, Backoff(retries=2), rng=random.Random(0), sleep=sleeps) == "done"
    assert op.calls == 3 and len(sleeps.delays) == 2


async def test_on_retry_is_told_of_each_retried_error_but_not_the_last() -> None:
    """`on_retry` hears every error that will be retried, numbered from 1; the one raised at the
    end is not announced as a retry."""
    errors = [SinkError("kafka_timeout", str(i), retryable=True) for i in range(3)]
    heard: list[tuple[str, int]] = []
    with pytest.raises(SinkError, match="2"):
        await retry(
            Flaky(*errors),
            Backoff(retries=2),
            sleep=Sleeps(),
            on_retry=lambda exc, n: heard.append((str(exc), n)),
        )
    assert heard == [("kafka_timeout: 0", 1), ("kafka_timeout: 1", 2)]


async def test_non_retryable_error_is_raised_at_once() -> None:
    """A non-retryable error is raised unchanged without sleeping."""
    op, sleeps = Flaky(FetchError("not_found")), Sleeps()
    with pytest.raises(FetchError, match="not_found"):
        await retry(op, Backoff(retries=5), sleep=sleeps)
    assert op.calls == 1 and sleeps.delays == []


async def test_last_error_is_raised_when_retries_run_out() -> None:
    """After `retries` retries the last error propagates."""
    errors = [FetchError("timeout", str(i), retryable=True) for i in range(4)]
    op = Flaky(*errors)
    with pytest.raises(FetchError) as caught:
        await retry(op, Backoff(retries=2), sleep=Sleeps())
    assert caught.value is errors[2] and op.calls == 3


async def test_retry_after_is_honoured() -> None:
    """The wait is at least the server's retry_after."""
    op, sleeps = Flaky(FetchError("server_error", retryable=True, retry_after=7.0)), Sleeps()
    await retry(op, Backoff(retries=1, base=0.1, cap=30.0), rng=random.Random(0), sleep=sleeps)
    assert sleeps.delays == [7.0]


async def test_retry_after_beyond_cap_gives_up() -> None:
    """A retry_after longer than the cap is not waited for: the error is raised."""
    op = Flaky(FetchError("server_error", retryable=True, retry_after=3600.0))
    with pytest.raises(FetchError):
        await retry(op, Backoff(retries=3, cap=30.0), sleep=Sleeps())
    assert op.calls == 1


@given(st.integers(0, 200), st.floats(0.001, 10), st.floats(0.001, 100), st.integers(0, 2**32))
def test_delay_is_full_jitter_within_cap(attempt: int, base: float, cap: float, seed: int) -> None:
    """Every delay lies in [0, min(cap, base * 2**attempt)]."""
    delay = Backoff(base=base, cap=cap).delay(attempt, random.Random(seed))
    assert 0.0 <= delay <= min(cap, base * 2.0 ** min(attempt, 62))


NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
RETRY_AFTER = {
    "seconds": ("120", 120.0),
    "seconds with spaces": (" 0 ", 0.0),
    "http date": ("Sun, 22 Nov 2026 12:01:30 GMT", 90.0),
    "obsolete RFC 850 date": ("Sunday, 22-Nov-26 12:10:00 GMT", 600.0),
    "date in the past": ("Sun, 22 Nov 2026 11:00:00 GMT", 0.0),
    "absent": (None, None),
    "empty": ("", None),
    "garbage": ("soon", None),
    "negative": ("-5", None),
}


@pytest.mark.parametrize(("value", "seconds"), RETRY_AFTER.values(), ids=RETRY_AFTER.keys())
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    """Retry-After as delta-seconds or HTTP-date, relative to `now`; junk is ignored."""
    assert parse_retry_after(value, now=NOW) == seconds
