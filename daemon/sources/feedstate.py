"""Per-feed durable state in the SQLite `Store`: cursors, schedule, seen item keys, imports.

Tables owned here (all `CREATE IF NOT EXISTS`, registered by `FeedStateRepo.start()`):

    feed_state      one row per feed id: URL, cursor (ETag, Last-Modified, body hash), schedule
                    (next poll, error streak, polls since the last full fetch), entry rate,
                    redirect candidate, retired flag, last error (reason and time)
    feed_alias      old URLs of moved feeds → feed id
    feed_seen       item keys (GUID, else link) per feed with the entry's `updated` value,
                    first-seen time; pruned by age and bounded per feed
    feed_import     feeds added at run time (`newsd feeds add`, OPML import) with their tags and
                    interval; the config file's `[[feeds]]` are not stored

Times are stored as UNIX seconds (REAL).  Nothing here decides anything: the poller does.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

from daemon.records import FeedSpec
from daemon.state.sqlite import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_state (
    feed_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    next_poll_at REAL,
    error_streak INTEGER NOT NULL DEFAULT 0,
    polls_since_full INTEGER NOT NULL DEFAULT 0,
    last_success_at REAL,
    last_new_item_at REAL,
    entry_rate REAL,
    feed_ttl REAL,
    redirect_url TEXT,
    redirect_count INTEGER NOT NULL DEFAULT 0,
    retired INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_error_at REAL
);
CREATE TABLE IF NOT EXISTS feed_alias (
    url TEXT PRIMARY KEY,
    feed_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_seen (
    feed_id TEXT NOT NULL,
    item_key TEXT NOT NULL,
    updated TEXT,
    first_seen REAL NOT NULL,
    PRIMARY KEY (feed_id, item_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS feed_seen_age ON feed_seen (feed_id, first_seen);
CREATE TABLE IF NOT EXISTS feed_import (
    feed_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    publisher TEXT,
    language TEXT,
    source TEXT NOT NULL,
    imported_at REAL NOT NULL,
    min_interval REAL,
    max_interval REAL,
    tags TEXT
);
"""
# Columns added after the first release: (table, column, type) for stores created before them.
_ADDED_COLUMNS = (
    ("feed_state", "last_error", "TEXT"),
    ("feed_state", "last_error_at", "REAL"),
    ("feed_import", "min_interval", "REAL"),
    ("feed_import", "max_interval", "REAL"),
    ("feed_import", "tags", "TEXT"),
)


@dataclass(slots=True)
class FeedState:
    """The mutable state of one feed, owned by the poller while it runs."""

    feed_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    next_poll_at: float | None = None
    error_streak: int = 0
    polls_since_full: int = 0
    last_success_at: float | None = None
    last_new_item_at: float | None = None
    entry_rate: float | None = None  # EWMA of new entries per day
    feed_ttl: float | None = None  # seconds the feed itself asked for (<ttl>, sy:updatePeriod)
    redirect_url: str | None = None
    redirect_count: int = 0
    retired: bool = False
    last_error: str | None = None  # reason of the latest failed poll (kept after a success)
    last_error_at: float | None = None

    def clear_cursor(self) -> None:
        """Forget ETag, Last-Modified and body hash: the next poll is a full, unconditional one."""
        self.etag = self.last_modified = self.body_hash = None


_COLUMNS = tuple(f.name for f in fields(FeedState))
# One row per feed per flush: attrgetter is ~60x cheaper than dataclasses.astuple (no deep copy).
_ROW = attrgetter(*_COLUMNS)
# Built from the dataclass's own field names, never from input.
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM feed_state"  # noqa: S608
_PLACEHOLDERS = ", ".join("?" * len(_COLUMNS))
_ASSIGN = ", ".join(f"{c}=excluded.{c}" for c in _COLUMNS if c != "feed_id")
_UPSERT = (
    f"INSERT INTO feed_state ({', '.join(_COLUMNS)}) VALUES ({_PLACEHOLDERS}) "  # noqa: S608
    f"ON CONFLICT(feed_id) DO UPDATE SET {_ASSIGN}"
)
_MARK_SEEN = (
    "INSERT INTO feed_seen (feed_id, item_key, updated, first_seen) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(feed_id, item_key) DO UPDATE SET updated = excluded.updated"
)
SeenKey = tuple[str, str | None]  # (item key, the entry's `updated` value or None)


class FeedStateRepo:
    """Feed state over one `Store`; every method is one transaction on the store thread."""

    def __init__(self, store: Store, *, seen_window: float = 30 * 86400.0, seen_max: int = 5000):
        self.store = store
        self.seen_window = seen_window  # seconds a seen key is remembered
        self.seen_max = seen_max  # keys remembered per feed, newest first

    async def start(self) -> None:
        """Create the tables (idempotent)."""
        await self.store.migrate(SCHEMA)
        await self.store.run(_add_missing_columns)

    async def load(self) -> dict[str, FeedState]:
        """Every stored feed state by feed id."""
        rows = await self.store.run(lambda c: c.execute(_SELECT).fetchall())
        return {row[0]: _state(row) for row in rows}

    async def save(self, states: Iterable[FeedState]) -> None:
        rows = [_ROW(s) for s in states]
        if rows:
            await self.store.run(lambda c: c.executemany(_UPSERT, rows))

    async def add_alias(self, url: str, feed_id: str) -> None:
        sql = "INSERT OR REPLACE INTO feed_alias (url, feed_id) VALUES (?, ?)"
        await self.store.run(lambda c: c.execute(sql, (url, feed_id)))

    async def aliases(self) -> dict[str, str]:
        """Old URL → feed id."""
        sql = "SELECT url, feed_id FROM feed_alias"
        return await self.store.run(lambda c: dict(c.execute(sql).fetchall()))

    async def seen(self, feed_id: str) -> dict[str, str | None]:
        """The remembered item keys of one feed with their `updated` values."""
        sql = "SELECT item_key, updated FROM feed_seen WHERE feed_id = ?"
        return await self.store.run(lambda c: dict(c.execute(sql, (feed_id,)).fetchall()))

    async def record_seen(self, keys: Mapping[str, Sequence[SeenKey]], *, now: float) -> None:
        """Remember keys (insert, or update the `updated` value; first-seen time is kept), then
        forget each feed's keys older than the window and beyond the per-feed bound; one
        transaction."""

        def write(conn: sqlite3.Connection) -> None:
            for feed_id, feed_keys in keys.items():
                rows = [(feed_id, key, updated, now) for key, updated in feed_keys]
                conn.executemany(_MARK_SEEN, rows)
                self._prune(conn, feed_id, now - self.seen_window)

        if keys:
            await self.store.run(write)

    def _prune(self, conn: sqlite3.Connection, feed_id: str, before: float) -> int:
        old = conn.execute(
            "DELETE FROM feed_seen WHERE feed_id = ? AND first_seen < ?", (feed_id, before)
        ).rowcount
        over = conn.execute(
            "DELETE FROM feed_seen WHERE feed_id = ? AND item_key NOT IN (SELECT item_key "
            "FROM feed_seen WHERE feed_id = ? ORDER BY first_seen DESC LIMIT ?)",
            (feed_id, feed_id, self.seen_max),
        ).rowcount
        return int(old) + int(over)

    async def add_imports(self, specs: Sequence[FeedSpec], *, source: str, now: float) -> None:
        sql = (
            "INSERT OR IGNORE INTO feed_import (feed_id, url, publisher, language, source, "
            "imported_at, min_interval, max_interval, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        rows = [
            (*(s.feed_id, s.url, s.publisher, s.language, source, now), *_import_extras(s))
            for s in specs
        ]
        await self.store.run(lambda c: c.executemany(sql, rows))

    async def imports(self) -> list[FeedSpec]:
        """Feeds added at run time (CLI, OPML), in the order they were added."""
        sql = (
            "SELECT feed_id, url, publisher, language, min_interval, max_interval, tags "
            "FROM feed_import ORDER BY rowid"
        )
        rows = await self.store.run(lambda c: c.execute(sql).fetchall())
        return [_import(row) for row in rows]

    async def import_sources(self) -> dict[str, str]:
        """Feed id → where a run-time feed came from (`cli`, `opml:<file name>`)."""
        sql = "SELECT feed_id, source FROM feed_import"
        return await self.store.run(lambda c: dict(c.execute(sql).fetchall()))

    async def remove_import(self, feed_id: str) -> bool:
        """Forget a run-time feed (its state and cursor stay, for a later re-add)."""
        sql = "DELETE FROM feed_import WHERE feed_id = ?"
        return bool(await self.store.run(lambda c: c.execute(sql, (feed_id,)).rowcount))


def _import_extras(spec: FeedSpec) -> tuple[float | None, float | None, str]:
    return spec.min_interval, spec.max_interval, json.dumps(list(spec.tags))


def _import(row: Sequence[Any]) -> FeedSpec:
    tags = tuple(json.loads(row[6])) if row[6] else ()
    return FeedSpec(
        feed_id=row[0],
        url=row[1],
        publisher=row[2],
        language=row[3],
        min_interval=row[4],
        max_interval=row[5],
        tags=tags,
    )


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, column, kind in _ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _state(row: Sequence[object]) -> FeedState:
    state = FeedState(*row)  # type: ignore[arg-type]
    state.retired = bool(state.retired)
    return state
