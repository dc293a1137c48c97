"""When to poll a feed next.  Pure: no I/O, time and randomness are parameters.

The promises, checked by Hypothesis in `tests/sources/test_schedule.py`:

* After a successful poll the delay is always inside the feed's `[min_interval, max_interval]`.
  It follows the feed's recent entry rate, and is never shorter than what the server asked for
  (RSS `<ttl>`, `sy:updatePeriod`, `Cache-Control: max-age`, `Expires`) *up to* `max_interval`:
  the operator's `max_interval` is a freshness promise, so a server asking for a week of silence
  is polled at `max_interval` anyway.
* After an error the delay grows exponentially from `backoff_base`, capped at `backoff_cap`, and
  is never shorter than `min_interval` nor than `Retry-After`.  It never exceeds the *ceiling*
  `max(max_interval, backoff_cap)`: a feed is never abandoned, and once the streak reaches the
  cap it is probed at that slowest rate.  A Retry-After beyond the ceiling is cut to the ceiling
  (a server asking for ten years of silence would otherwise retire the feed by itself).
* Every delay carries jitter (a fraction `jitter` of the delay, drawn from `rng`) so feeds that
  failed together do not retry together.  Jitter never crosses the bounds above: at a lower bound
  it spreads upwards, at an upper bound downwards.  Only when the bounds are equal is there
  nothing to spread.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from daemon.retry import parse_retry_after, seconds_until

DAY = 86400.0
RATE_WINDOW = 7 * DAY  # entries published within this window seed a new feed's rate
RATE_HALF_LIFE = 3 * DAY  # the entry-rate EWMA forgets half of its past in this time


@dataclass(frozen=True, slots=True)
class Bounds:
    """One feed's scheduling bounds, in seconds (settings, or the feed's own overrides)."""

    min_interval: float
    max_interval: float
    default_interval: float
    backoff_base: float
    backoff_cap: float
    jitter: float

    @property
    def ceiling(self) -> float:
        """The slowest rate a feed is ever probed at."""
        return max(self.max_interval, self.backoff_cap, self.min_interval)


@dataclass(frozen=True, slots=True)
class ServerHints:
    """Delays the server asked for, in seconds from the response time (None: not asked)."""

    ttl: float | None = None
    sy_update_period: float | None = None
    max_age: float | None = None
    expires: float | None = None
    retry_after: float | None = None

    @property
    def cache_floor(self) -> float:
        """The longest of the cache hints: we never poll sooner than this (up to max)."""
        hints = (self.ttl, self.sy_update_period, self.max_age, self.expires)
        return max((h for h in hints if h is not None and h > 0), default=0.0)


def hints_from_headers(
    headers: Mapping[str, str],
    *,
    now: datetime,
    ttl: float | None = None,
    sy_update_period: float | None = None,
) -> ServerHints:
    """Read Cache-Control max-age, Expires and Retry-After (lower-cased header names)."""
    return ServerHints(
        ttl=ttl,
        sy_update_period=sy_update_period,
        max_age=parse_max_age(headers.get("cache-control", "")),
        expires=seconds_until(headers.get("expires", ""), now=now),
        retry_after=parse_retry_after(headers.get("retry-after", ""), now=now),
    )


def parse_max_age(cache_control: str) -> float | None:
    """`max-age` of a Cache-Control value (RFC 9111 §5.2.2.1); `no-cache`/`no-store` mean 0."""
    age: float | None = None
    for directive in cache_control.lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-cache", "no-store"):
            return 0.0
        if name == "max-age":
            try:
                age = max(0.0, float(value.strip().strip('"')))
            except ValueError:
                continue
    return age


def interval_for_rate(rate: float | None, bounds: Bounds) -> float:
    """About one poll per expected new entry; a feed without history gets the default."""
    if rate is None:
        return bounds.default_interval
    if rate <= 0:
        return bounds.max_interval
    return DAY / rate


def next_after_success(
    *, now: datetime, rate: float | None, hints: ServerHints, bounds: Bounds, rng: random.Random
) -> datetime:
    """The next poll after a successful (or not-modified) poll."""
    low = min(max(bounds.min_interval, hints.cache_floor), bounds.max_interval)
    target = min(max(interval_for_rate(rate, bounds), low), bounds.max_interval)
    return _at(now, jittered(target, low, bounds.max_interval, bounds.jitter, rng))


def backoff_delay(streak: int, bounds: Bounds) -> float:
    """`backoff_base * 2**(streak-1)`, capped at `backoff_cap` (streak counts from 1)."""
    exponent = min(max(streak, 1) - 1, 60)
    return min(bounds.backoff_cap, bounds.backoff_base * math.pow(2.0, exponent))


def next_after_error(
    *,
    now: datetime,
    streak: int,
    retry_after: float | None,
    bounds: Bounds,
    rng: random.Random,
) -> datetime:
    """The next poll after the `streak`-th consecutive failure."""
    ceiling = bounds.ceiling
    low = min(max(bounds.min_interval, retry_after or 0.0), ceiling)
    target = min(max(backoff_delay(streak, bounds), low), ceiling)
    return _at(now, jittered(target, low, ceiling, bounds.jitter, rng))


def jittered(target: float, low: float, high: float, jitter: float, rng: random.Random) -> float:
    """`target` spread by ±`jitter`·target, kept inside `[low, high]` with the full spread width.

    At `low` the spread goes upwards and at `high` downwards, so edges do not pile feeds up on
    one instant.
    """
    spread = target * jitter
    if spread <= 0 or high <= low:
        return min(max(target, low), high)
    lo = max(low, min(target - spread, high - spread))
    hi = min(high, max(target + spread, low + spread))
    return rng.uniform(lo, hi)


def _at(now: datetime, seconds: float) -> datetime:
    return datetime.fromtimestamp(now.timestamp() + seconds, tz=UTC)


def updated_rate(
    rate: float | None,
    *,
    new_entries: int,
    elapsed: float,
    now: datetime,
    published: Iterable[datetime] = (),
) -> float | None:
    """The feed's recent entry rate (entries/day) after a poll that found `new_entries`.

    `elapsed` is the time since the previous successful poll (0 for the first one).  A feed
    without history is seeded from the dates of the entries it lists (those within the last
    week); afterwards the rate is an EWMA over time with a half-life of `RATE_HALF_LIFE`.
    """
    if rate is None:
        seeded = _rate_from_dates(published, now)
        if seeded is not None or elapsed <= 0:
            return seeded
        rate = new_entries * DAY / elapsed
    if elapsed <= 0:
        return rate
    observed = new_entries * DAY / elapsed
    weight = 1.0 - math.pow(0.5, elapsed / RATE_HALF_LIFE)
    return rate + weight * (observed - rate)


def _rate_from_dates(published: Iterable[datetime], now: datetime) -> float | None:
    now_ts = now.timestamp()
    recent = [d for d in published if 0 <= now_ts - d.timestamp() <= RATE_WINDOW]
    return len(recent) * DAY / RATE_WINDOW if recent else None
