"""schedule: named tables for the decisions, Hypothesis for the bounds every schedule keeps."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.sources import schedule
from daemon.sources.schedule import Bounds, ServerHints

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
BOUNDS = Bounds(
    min_interval=300,
    max_interval=86400,
    default_interval=1800,
    backoff_base=60,
    backoff_cap=86400,
    jitter=0.1,
)
NO_JITTER = Bounds(300, 86400, 1800, 60, 86400, 0.0)


def delay(at: datetime) -> float:
    return (at - NOW).total_seconds()


@pytest.mark.parametrize(
    ("rate", "hints", "expected"),
    [
        (None, ServerHints(), 1800),  # new feed: the default interval
        (48.0, ServerHints(), 1800),  # 48 entries/day: one poll per expected entry
        (1000.0, ServerHints(), 300),  # very busy feed: clamped to min_interval
        (0.0, ServerHints(), 86400),  # silent feed: max_interval
        (0.5, ServerHints(), 86400),  # one entry in two days: clamped to max_interval
        (48.0, ServerHints(ttl=7200), 7200),  # RSS <ttl> is a floor
        (48.0, ServerHints(max_age=3600), 3600),  # Cache-Control max-age is a floor
        (48.0, ServerHints(expires=5400, sy_update_period=3600), 5400),  # the largest hint wins
        (48.0, ServerHints(ttl=7 * 86400), 86400),  # a floor beyond max is cut to max
        (48.0, ServerHints(retry_after=9000), 1800),  # Retry-After only matters on errors
    ],
    ids=[
        "new-feed",
        "rate-48",
        "busy",
        "silent",
        "slow",
        "ttl",
        "max-age",
        "largest-hint",
        "hint-over-max",
        "retry-after-ignored",
    ],
)
def test_success_delay(rate: float | None, hints: ServerHints, expected: float) -> None:
    """Without jitter the delay after a success follows rate, hints and bounds exactly."""
    at = schedule.next_after_success(
        now=NOW, rate=rate, hints=hints, bounds=NO_JITTER, rng=random.Random(1)
    )
    assert delay(at) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("streak", "retry_after", "expected"),
    [
        (1, None, 300),  # backoff_base 60 is below min_interval 300
        (4, None, 480),  # 60 * 2**3
        (8, None, 7680),
        (12, None, 86400),  # capped
        (500, None, 86400),  # still capped: probed at the slowest rate, never abandoned
        (1, 3600, 3600),  # Retry-After longer than the backoff wins
        (12, 3600, 86400),  # backoff longer than Retry-After wins
        (1, 10 * 365 * 86400, 86400),  # absurd Retry-After cut to the ceiling
    ],
)
def test_error_delay(streak: int, retry_after: float | None, expected: float) -> None:
    """Exponential backoff from backoff_base, capped, never before Retry-After or min_interval."""
    at = schedule.next_after_error(
        now=NOW, streak=streak, retry_after=retry_after, bounds=NO_JITTER, rng=random.Random(1)
    )
    assert delay(at) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("max-age=600", 600.0),
        ("public, max-age=3600, must-revalidate", 3600.0),
        ('max-age="60"', 60.0),
        ("no-cache", 0.0),
        ("private", None),
        ("max-age=abc", None),
    ],
)
def test_parse_max_age(header: str, expected: float | None) -> None:
    """Cache-Control max-age in seconds; no-cache means no floor."""
    assert schedule.parse_max_age(header) == expected


def test_hints_from_headers_reads_expires_relative_to_now() -> None:
    """Expires becomes seconds from now, next to max-age and Retry-After."""
    hints = schedule.hints_from_headers(
        {"expires": "Mon, 05 Jan 2026 13:00:00 GMT", "cache-control": "max-age=60"},
        now=NOW,
        ttl=120.0,
    )
    assert (hints.expires, hints.max_age, hints.ttl, hints.cache_floor) == (3600, 60, 120, 3600)


def test_jitter_spreads_feeds_that_failed_together() -> None:
    """1,000 feeds answered 429 with the same Retry-After: no two retry at the same instant."""
    rng = random.Random(7)
    times = [
        schedule.next_after_error(now=NOW, streak=1, retry_after=120, bounds=BOUNDS, rng=rng)
        for _ in range(1000)
    ]
    assert len(set(times)) == 1000
    assert min(times) >= NOW + timedelta(seconds=300)  # min_interval and Retry-After honoured


def test_rate_is_seeded_from_dates_then_smoothed() -> None:
    """A new feed's rate comes from last week's entry dates; later polls move it by an EWMA."""
    dates = [NOW - timedelta(hours=h) for h in range(0, 7 * 24, 12)]  # 14 in the week
    seeded = schedule.updated_rate(None, new_entries=14, elapsed=0, now=NOW, published=dates)
    assert seeded == pytest.approx(2.0)
    busier = schedule.updated_rate(2.0, new_entries=10, elapsed=86400, now=NOW)
    assert busier is not None and 2.0 < busier < 10.0
    quiet = schedule.updated_rate(2.0, new_entries=0, elapsed=86400, now=NOW)
    assert quiet is not None and 0.0 < quiet < 2.0


bounds_strategy = st.builds(
    lambda lo, span, default, base, cap, jitter: Bounds(lo, lo + span, default, base, cap, jitter),
    st.floats(1, 10_000),
    st.floats(0, 200_000),
    st.floats(1, 200_000),
    st.floats(1, 10_000),
    st.floats(1, 500_000),
    st.floats(0, 1),
)
hint = st.none() | st.floats(0, 10_000_000)


@given(
    bounds=bounds_strategy,
    rate=st.none() | st.floats(0, 100_000),
    hints=st.builds(ServerHints, ttl=hint, sy_update_period=hint, max_age=hint, expires=hint),
    seed=st.integers(0, 2**32),
)
def test_success_delay_always_within_min_max(
    bounds: Bounds, rate: float | None, hints: ServerHints, seed: int
) -> None:
    """Whatever the rate, hints and jitter: min_interval <= delay <= max_interval."""
    at = schedule.next_after_success(
        now=NOW, rate=rate, hints=hints, bounds=bounds, rng=random.Random(seed)
    )
    assert bounds.min_interval - 1e-3 <= delay(at) <= bounds.max_interval + 1e-3
    floor = min(hints.cache_floor, bounds.max_interval)
    assert delay(at) >= floor - 1e-3  # never sooner than the server asked (up to max)


@given(
    bounds=bounds_strategy,
    streak=st.integers(1, 10_000),
    retry_after=hint,
    seed=st.integers(0, 2**32),
)
def test_error_delay_within_min_and_ceiling_and_after_retry_after(
    bounds: Bounds, streak: int, retry_after: float | None, seed: int
) -> None:
    """Error delays: >= min_interval, >= Retry-After (up to the ceiling), <= the ceiling."""
    at = schedule.next_after_error(
        now=NOW, streak=streak, retry_after=retry_after, bounds=bounds, rng=random.Random(seed)
    )
    assert bounds.min_interval - 1e-3 <= delay(at) <= bounds.ceiling + 1e-3
    assert delay(at) >= min(retry_after or 0, bounds.ceiling) - 1e-3


@given(streak=st.integers(1, 200), bounds=bounds_strategy)
def test_backoff_never_decreases_with_the_streak(streak: int, bounds: Bounds) -> None:
    """One more failure never shortens the backoff, and it never exceeds the cap."""
    assert schedule.backoff_delay(streak, bounds) <= schedule.backoff_delay(streak + 1, bounds)
    assert schedule.backoff_delay(streak, bounds) <= bounds.backoff_cap
