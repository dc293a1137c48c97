"""robots.txt for article pages (RFC 9309), fetched through the same guarded, polite client.

Outcomes of fetching `<origin>/robots.txt` (RFC 9309 §2.3.1):
- 2xx: parsed with protego (Scrapy's parser) and obeyed for our product token.
- 4xx except 429 ("unavailable", §2.3.1.3): everything is allowed.
- 5xx, 429 and transport failures ("unreachable", §2.3.1.4): everything is disallowed, and that
  answer is cached only `unreachable_ttl` seconds so the origin is asked again soon.
Answers are cached per origin for `fetch.robots_ttl` (§2.4: at most 24 h by default), in a
bounded LRU.  Concurrent questions about one origin share a single robots.txt request.
Feeds are not checked: a publisher lists a feed in order to have it polled.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from daemon.errors import BlockedAddress, FetchError
from daemon.fetch.contract import HttpClient, HttpResponse
from daemon.settings import FetchSettings

ROBOTS_AGENT = "newsd"


@dataclass(frozen=True, slots=True)
class _Rules:
    parser: Protego | None  # None: `allow_all` decides for every path
    allow_all: bool
    expires: float

    def allows(self, url: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return bool(self.parser.can_fetch(url, ROBOTS_AGENT))


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of `url`, lower-cased, without user info or default port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(scheme)
    port = f":{parts.port}" if parts.port not in (None, default) else ""
    return f"{scheme}://{host}{port}"


class Robots:
    """Answers `await robots.allowed(url)` for article pages."""

    def __init__(
        self,
        http: HttpClient,
        settings: FetchSettings,
        *,
        max_origins: int = 4096,
        unreachable_ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._enabled = settings.respect_robots
        self._ttl = settings.robots_ttl
        unreachable = unreachable_ttl or settings.robots_unreachable_ttl
        self._unreachable_ttl = min(unreachable, settings.robots_ttl)
        self._max = max_origins
        self._clock = clock
        self._cache: OrderedDict[str, _Rules] = OrderedDict()
        self._pending: dict[str, asyncio.Task[_Rules]] = {}

    async def allowed(self, url: str) -> bool:
        """True when robots.txt of `url`'s origin lets newsd fetch it (always, when disabled).

        Raises `BlockedAddress` when the origin itself is refused by the SSRF guard.
        """
        if not self._enabled:
            return True
        rules = await self._rules(origin_of(url))
        return rules.allows(url)

    async def _rules(self, origin: str) -> _Rules:
        cached = self._cache.get(origin)
        if cached is not None and cached.expires > self._clock():
            self._cache.move_to_end(origin)
            return cached
        task = self._pending.get(origin)
        if task is None:
            task = self._pending[origin] = asyncio.create_task(self._load(origin))
            task.add_done_callback(lambda _: self._pending.pop(origin, None))
        rules = await asyncio.shield(task)
        self._remember(origin, rules)
        return rules

    async def _load(self, origin: str) -> _Rules:
        try:
            response = await self._http.get(f"{origin}/robots.txt", kind="robots")
        except BlockedAddress:
            raise
        except FetchError:
            return self._unreachable()
        return self._rules_from(response)

    def _rules_from(self, response: HttpResponse) -> _Rules:
        expires = self._clock() + self._ttl
        if 200 <= response.status < 300:
            text = response.body.decode("utf-8", errors="replace")
            return _Rules(Protego.parse(text), allow_all=True, expires=expires)
        if response.status == 429 or response.status >= 500:
            return self._unreachable()
        return _Rules(None, allow_all=True, expires=expires)

    def _unreachable(self) -> _Rules:
        return _Rules(None, allow_all=False, expires=self._clock() + self._unreachable_ttl)

    def _remember(self, origin: str, rules: _Rules) -> None:
        self._cache[origin] = rules
        self._cache.move_to_end(origin)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
