"""Politeness shared by feed polls and article fetches.

Every request start takes a slot from `Politeness.slot(url)`: at most `per_domain_concurrency`
requests in flight per registrable domain (public-suffix aware, so `a.example.co.uk` and
`b.example.co.uk` share one budget; an IP host is its own domain), at least
`per_domain_min_interval` seconds between request starts to one domain, and at most
`global_concurrency` requests in flight overall.  A server's Retry-After can push a domain's next
start later (`defer`).  Idle domain entries are evicted, so memory stays bounded by the number of
domains in use: a sweep runs once the table passes `max_idle_domains` and twice what the previous
sweep left (busy domains, or ones still inside their spacing), so its cost is amortised O(1) per
request even when thousands of domains are within their spacing at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

from daemon.fetch.guard import parse_address
from daemon.settings import FetchSettings

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# The bundled public-suffix snapshot: no network access at run time.  Private suffixes
# (github.io, blogspot.com) are not used on purpose: their sites share one operator's servers,
# so they share one budget.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """The domain a politeness budget is kept for: `www.bbc.co.uk` → `bbc.co.uk`."""
    host = host.lower().rstrip(".")
    if parse_address(host) is not None:
        return host.strip("[]")
    domain: str = _EXTRACT(host).top_domain_under_public_suffix
    return domain or host


def domain_of(url: str) -> str:
    """The registrable domain of `url`'s host (the empty string when it has none)."""
    return registrable_domain(urlsplit(url).hostname or "")


@dataclass(slots=True)
class _Domain:
    slots: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    users: int = 0  # holders and waiters: an entry in use is never evicted


class Politeness:
    """Per-domain concurrency and spacing, plus a global concurrency limit.

    Time is a parameter (`clock`, `sleep`) so tests can run on a fake clock.
    """

    def __init__(
        self,
        *,
        global_concurrency: int = 100,
        per_domain_concurrency: int = 2,
        min_interval: float = 1.0,
        max_defer: float = 3600.0,
        max_idle_domains: int = 1024,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._global = asyncio.Semaphore(global_concurrency)
        self._per_domain = per_domain_concurrency
        self._interval = min_interval
        self._max_defer = max_defer
        self._max_idle = max_idle_domains
        self._clock = clock
        self._sleep = sleep
        self._domains: dict[str, _Domain] = {}
        self._sweep_above = max_idle_domains

    @classmethod
    def from_settings(
        cls,
        settings: FetchSettings,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_defer: float | None = None,
    ) -> Politeness:
        """Build from the `fetch.*` settings (concurrency limits and spacing)."""
        return cls(
            global_concurrency=settings.global_concurrency,
            per_domain_concurrency=settings.per_domain_concurrency,
            min_interval=settings.per_domain_min_interval,
            max_defer=settings.max_retry_after if max_defer is None else max_defer,
            clock=clock,
            sleep=sleep,
        )

    @property
    def tracked_domains(self) -> int:
        """How many domain entries are held in memory."""
        return len(self._domains)

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        """Wait for a turn to start a request to `url`'s domain; the slot is held inside."""
        key = domain_of(url)
        entry = self._enter(key)
        try:
            async with entry.slots:
                await self._start_turn(entry)
                try:
                    yield
                finally:
                    self._global.release()
        finally:
            entry.users -= 1
            self._evict_idle()

    def defer(self, url: str, seconds: float) -> None:
        """Start no request to `url`'s domain for `seconds` (a Retry-After), capped at max_defer."""
        entry = self._enter(domain_of(url))
        entry.users -= 1
        later = self._clock() + min(max(seconds, 0.0), self._max_defer)
        entry.next_start = max(entry.next_start, later)

    def _enter(self, key: str) -> _Domain:
        entry = self._domains.get(key)
        if entry is None:
            entry = self._domains[key] = _Domain(asyncio.Semaphore(self._per_domain))
        entry.users += 1
        return entry

    async def _start_turn(self, entry: _Domain) -> None:
        # Spacing is checked after the global slot is taken, so a long wait for that slot can't
        # let two starts to one domain bunch up; the domain lock keeps other domains flowing.
        async with entry.lock:
            await self._wait_until(entry)
            await self._global.acquire()
            try:
                await self._wait_until(entry)
            except BaseException:
                self._global.release()
                raise
            entry.next_start = self._clock() + self._interval

    async def _wait_until(self, entry: _Domain) -> None:
        while (delay := entry.next_start - self._clock()) > 0:
            await self._sleep(delay)

    def _evict_idle(self) -> None:
        if len(self._domains) <= self._sweep_above:
            return
        now = self._clock()
        idle = [k for k, e in self._domains.items() if e.users == 0 and e.next_start <= now]
        for key in idle:
            del self._domains[key]
        self._sweep_above = max(self._max_idle, 2 * len(self._domains))
