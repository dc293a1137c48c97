"""Runtime feed control: what `newsd feeds add/remove/pause/resume/import` ask a running daemon.

The command line and the daemon share nothing but the SQLite store.  A command writes its change
and bumps one version counter in the same transaction; the daemon reads that counter every
`poll.tick` (one indexed row) and, when it moved, rebuilds the feed set and hands it to the
poller.  So a change is applied within a tick or two, without a restart and without touching any
feed's cursor (cursors live in `feed_state`, owned by the poller).

How the sources combine (the whole feed set, recomputed on every change):

    config [[feeds]]   declarative: always present while listed; `remove` refuses them
    run-time feeds     `feeds add` and `feeds import` (OPML); a URL or id that the config file
                       already declares is refused (the file wins, also when it gains it later)
    controls           per feed id, for both kinds: paused, and a pending "un-retire" request
                       (`feeds resume` of a feed retired by 410 Gone)

Tables owned here: `feed_control` (feed id → paused, unretire) and `feed_control_version`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from daemon.errors import StateError
from daemon.records import FeedSpec
from daemon.settings import FeedConfig
from daemon.sources.feedstate import FeedStateRepo
from daemon.sources.opml import load_feeds
from daemon.state.sqlite import Store

log = structlog.get_logger(__name__)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS feed_control (feed_id TEXT PRIMARY KEY, "
    "paused INTEGER NOT NULL DEFAULT 0, unretire INTEGER NOT NULL DEFAULT 0, "
    "updated_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS feed_control_version (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "version INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO feed_control_version (id, version) VALUES (1, 0)",
)
_BUMP = "UPDATE feed_control_version SET version = version + 1 WHERE id = 1"
_UPSERT = (
    "INSERT INTO feed_control (feed_id, paused, unretire, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(feed_id) DO UPDATE SET paused = excluded.paused, "
    "unretire = MAX(unretire, excluded.unretire), updated_at = excluded.updated_at"
)


@dataclass(frozen=True, slots=True)
class FeedSet:
    """The feeds a daemon should poll now, and which of them it should leave alone."""

    specs: tuple[FeedSpec, ...]
    paused: frozenset[str] = frozenset()
    unretire: frozenset[str] = frozenset()  # retired feeds to poll again


class Adopts(Protocol):
    """What the watcher needs from the poller."""

    async def apply(self, feeds: FeedSet) -> None: ...

    async def flush(self) -> None: ...


class FeedControlRepo:
    """Pause flags, un-retire requests and the change counter, over one `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def start(self) -> None:
        """Create the tables (idempotent)."""
        await self.store.migrate(SCHEMA)

    async def version(self) -> int:
        """The change counter: it moves with every committed feed command."""
        sql = "SELECT version FROM feed_control_version WHERE id = 1"
        return int(await self.store.run(lambda c: c.execute(sql).fetchone()[0]))

    async def bump(self) -> None:
        """Tell a running daemon that the feed set changed (after adds, removes, imports)."""
        await self.store.run(lambda c: c.execute(_BUMP))

    async def set_paused(self, feed_id: str, paused: bool, *, now: float) -> None:
        """Pause or resume a feed; resuming also asks to un-retire it."""
        row = (feed_id, int(paused), int(not paused), now)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(_UPSERT, row)
            conn.execute(_BUMP)

        await self.store.run(write)

    async def forget(self, feed_id: str) -> None:
        """Drop a feed's flags (it was removed: added again, it starts active)."""
        sql = "DELETE FROM feed_control WHERE feed_id = ?"
        await self.store.run(lambda c: c.execute(sql, (feed_id,)))

    async def controls(self) -> tuple[frozenset[str], frozenset[str]]:
        """(paused feed ids, feed ids with a pending un-retire request)."""
        sql = "SELECT feed_id, paused, unretire FROM feed_control"
        rows = await self.store.run(lambda c: c.execute(sql).fetchall())
        return frozenset(r[0] for r in rows if r[1]), frozenset(r[0] for r in rows if r[2])

    async def clear_unretire(self, feed_ids: frozenset[str]) -> None:
        """Mark un-retire requests done (once the poller stored the un-retired state)."""
        rows = [(feed_id,) for feed_id in feed_ids]
        sql = "UPDATE feed_control SET unretire = 0 WHERE feed_id = ?"
        if rows:
            await self.store.run(lambda c: c.executemany(sql, rows))


async def current_feeds(
    state: FeedStateRepo, control: FeedControlRepo, configured: Sequence[FeedConfig]
) -> FeedSet:
    """The feed set as the store and the config file describe it right now."""
    specs = await load_feeds(state, configured)
    paused, unretire = await control.controls()
    return FeedSet(tuple(specs), paused=paused, unretire=unretire)


class FeedWatcher:
    """Applies feed commands to a running poller: `apply()` once, then `run()` until stopped."""

    def __init__(
        self,
        state: FeedStateRepo,
        control: FeedControlRepo,
        configured: Sequence[FeedConfig],
        *,
        every: float = 1.0,
    ) -> None:
        self.state = state
        self.control = control
        self.configured = configured
        self.every = every
        self._version: int | None = None

    async def apply(self, poller: Adopts) -> FeedSet:
        """Hand the current feed set to `poller`; settle un-retire requests once stored."""
        version = await self.control.version()
        feeds = await current_feeds(self.state, self.control, self.configured)
        await poller.apply(feeds)
        await poller.flush()
        await self.control.clear_unretire(feeds.unretire)
        self._version = version
        return feeds

    async def run(self, poller: Adopts, stop: asyncio.Event) -> None:
        """Check the change counter every `every` seconds; apply when it moved."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)
            try:
                if stop.is_set() or await self.control.version() == self._version:
                    continue
                feeds = await self.apply(poller)
            except StateError as exc:  # a busy or broken store: keep the current set, retry
                log.warning("feeds.apply_failed", reason=exc.reason, error=exc.detail)
                continue
            log.info(
                "feeds.applied",
                feeds=len(feeds.specs),
                paused=len(feeds.paused),
                unretired=len(feeds.unretire),
            )
