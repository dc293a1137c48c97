"""The `newsd feeds` commands: add, remove, pause, resume, list, import, export.

This module is all a feed command loads (not the pipeline), so the commands start fast.

Each command is one function over the two repositories of an open store, and every change ends
with the control counter bumped, so a running daemon applies it within about a second
(`feedcontrol.FeedWatcher`).  Bad input is a `ConfigError` naming the argument (exit code 2).
Which source may change what is written down in `daemon/sources/feedcontrol.py`.
In cluster mode (`cluster.enabled`) add, remove, pause, resume, list and export work on the
group's feeds topic instead (`daemon/cluster/commands.py`); import is single-process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.dedup.keys import canonical_url
from daemon.errors import ConfigError, UsageError
from daemon.observability.logging import configure
from daemon.records import FeedSpec
from daemon.settings import FeedConfig, Settings
from daemon.sources.feedcontrol import FeedControlRepo, current_feeds
from daemon.sources.feedlist import FEED_ID, FeedListing, specs_from_config
from daemon.sources.feedstate import FeedStateRepo
from daemon.sources.opml import ImportResult, import_opml, list_feeds, write_opml
from daemon.state.sqlite import Store

TABLE_COLUMNS = (
    ("ID", "feed_id"),
    ("URL", "url"),
    ("STATE", "state"),
    ("LAST SUCCESS", "last_success_at"),
    ("LAST NEW ITEM", "last_new_item_at"),
    ("ERRORS", "error_streak"),
    ("LAST ERROR", "last_error"),
    ("NEXT POLL", "next_poll_at"),
)
_TIMES = frozenset({"last_success_at", "last_new_item_at", "next_poll_at", "last_error_at"})


@dataclass(frozen=True, slots=True)
class FeedRepos:
    """The repositories a feed command works on (one open store)."""

    state: FeedStateRepo
    control: FeedControlRepo
    configured: Sequence[FeedConfig]


async def add_feed(
    repos: FeedRepos,
    url: str,
    *,
    feed_id: str | None = None,
    interval: float | None = None,
    tags: Sequence[str] = (),
) -> FeedSpec:
    """Add a run-time feed; `interval` pins its poll interval (min = max)."""
    spec = spec_for(url, feed_id=feed_id, interval=interval, tags=tags)
    await _refuse_known(repos, spec)
    await repos.state.add_imports([spec], source="cli", now=time.time())
    await repos.control.bump()
    return spec


def spec_for(
    url: str, *, feed_id: str | None, interval: float | None, tags: Sequence[str]
) -> FeedSpec:
    """The spec `feeds add` would add; bad input is a `ConfigError` naming the argument."""
    if feed_id is not None and not FEED_ID.fullmatch(feed_id):
        raise ConfigError("id", f"{feed_id!r}: letters, digits, '.', '_' and '-' only")
    try:
        config = FeedConfig(url=url, id=feed_id, min_interval=interval, max_interval=interval)
    except ValueError as exc:
        raise ConfigError("url", f"feeds add {url}: {exc}") from None
    return dataclasses.replace(
        specs_from_config([config])[0], tags=tuple(t.strip() for t in tags if t.strip())
    )


async def _refuse_known(repos: FeedRepos, spec: FeedSpec) -> None:
    feeds = await current_feeds(repos.state, repos.control, repos.configured)
    for known in feeds.specs:
        if known.feed_id == spec.feed_id or canonical_url(known.url) == canonical_url(spec.url):
            raise ConfigError("url", f"{spec.url} is already a feed (id {known.feed_id})")


async def remove_feed(repos: FeedRepos, feed_id: str) -> None:
    """Remove a run-time feed and its pause flag; its cursor stays stored for a later re-add."""
    if feed_id in {s.feed_id for s in specs_from_config(repos.configured)}:
        raise ConfigError("id", f"{feed_id} is declared in the config file: remove it there")
    if not await repos.state.remove_import(feed_id):
        raise ConfigError("id", f"no feed with id {feed_id!r}")
    await repos.control.forget(feed_id)
    await repos.control.bump()


async def set_paused(repos: FeedRepos, feed_id: str, paused: bool) -> None:
    """Pause a feed, or resume it (which also un-retires a feed retired by 410 Gone)."""
    feeds = await current_feeds(repos.state, repos.control, repos.configured)
    if feed_id not in {s.feed_id for s in feeds.specs}:
        raise ConfigError("id", f"no feed with id {feed_id!r}")
    await repos.control.set_paused(feed_id, paused, now=time.time())


async def import_file(repos: FeedRepos, path: Path) -> ImportResult:
    """Import an OPML file as run-time feeds."""
    result = await import_opml(path, repos.state, configured=repos.configured)
    await repos.control.bump()
    return result


async def export_opml(repos: FeedRepos) -> bytes:
    """Every feed (config and run-time) as an OPML 2.0 document."""
    feeds = await current_feeds(repos.state, repos.control, repos.configured)
    return write_opml(feeds.specs)


async def listing(repos: FeedRepos) -> list[FeedListing]:
    paused, _ = await repos.control.controls()
    return await list_feeds(repos.state, configured=repos.configured, paused=paused)


def row_json(row: FeedListing) -> dict[str, Any]:
    """A row for machines: every field, times as ISO 8601 UTC (null when never)."""
    data = dataclasses.asdict(row)
    for key in _TIMES:
        data[key] = _iso(data[key])
    data["tags"] = list(row.tags)
    return data


def render_table(rows: Sequence[FeedListing]) -> str:
    """A plain, aligned table for people (no wrapping: long URLs widen their column)."""
    cells = [[title for title, _ in TABLE_COLUMNS]]
    cells += [[_cell(row, field) for _, field in TABLE_COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(row: FeedListing, field: str) -> str:
    value = getattr(row, field)
    if field in _TIMES:
        return _clock(value)
    return "-" if value is None else str(value)


def _clock(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


# -- the commands: open the store, act, print ------------------------------------------------


async def feeds_import(settings: Settings, path: Path) -> int:
    configure(settings.log.level, settings.log.format)
    if settings.cluster.enabled:
        raise UsageError("cluster.enabled", "feeds import is not available in cluster mode yet")
    async with _feed_repos(settings) as repos:
        result = await import_file(repos, path)
    print(
        json.dumps(
            {
                "added": [dataclasses.asdict(spec) for spec in result.added],
                "duplicates": result.duplicates,
                "invalid": result.invalid,
            },
            indent=2,
            default=str,
        )
    )
    return 0


async def feeds_list(settings: Settings, *, as_json: bool = False) -> int:
    """The feed table (or a JSON array with `as_json`)."""
    configure(settings.log.level, settings.log.format)
    if settings.cluster.enabled:
        rows = await _cluster().listing(settings)
    else:
        async with _feed_repos(settings) as repos:
            rows = await listing(repos)
    if as_json:
        print(json.dumps([row_json(r) for r in rows], indent=2, ensure_ascii=False))
    else:
        print(render_table(rows))
    return 0


async def feeds_add(
    settings: Settings, url: str, *, feed_id: str | None, interval: float | None, tags: list[str]
) -> int:
    configure(settings.log.level, settings.log.format)
    if settings.cluster.enabled:
        spec = spec_for(url, feed_id=feed_id, interval=interval, tags=tags)
        await _cluster().add(settings, spec)
        print(json.dumps({"added": dataclasses.asdict(spec)}, default=str))
        return 0
    async with _feed_repos(settings) as repos:
        spec = await add_feed(repos, url, feed_id=feed_id, interval=interval, tags=tags)
    print(json.dumps({"added": dataclasses.asdict(spec)}, default=str))
    return 0


async def feeds_change(settings: Settings, action: str, feed_id: str) -> int:
    """`remove`, `pause` or `resume` one feed by id."""
    configure(settings.log.level, settings.log.format)
    if settings.cluster.enabled:
        await _cluster().change(settings, action, feed_id)
        print(json.dumps({action: feed_id}))
        return 0
    async with _feed_repos(settings) as repos:
        if action == "remove":
            await remove_feed(repos, feed_id)
        else:
            await set_paused(repos, feed_id, paused=action == "pause")
    print(json.dumps({action: feed_id}))
    return 0


async def feeds_export(settings: Settings, path: Path | None) -> int:
    """Write every feed as OPML 2.0 to `path`, or to standard output."""
    configure(settings.log.level, settings.log.format)
    if settings.cluster.enabled:
        data = write_opml(await _cluster().specs(settings))
    else:
        async with _feed_repos(settings) as repos:
            data = await export_opml(repos)
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        await asyncio.to_thread(path.write_bytes, data)
    return 0


def _cluster() -> Any:
    """The cluster-mode commands, imported only in cluster mode (they load the Kafka client)."""
    from daemon.cluster import commands

    return commands


@contextlib.asynccontextmanager
async def _feed_repos(settings: Settings) -> AsyncIterator[FeedRepos]:
    store = Store.in_dir(settings.state.dir)
    await store.open()
    try:
        state = FeedStateRepo(store)
        await state.start()
        control = FeedControlRepo(store)
        await control.start()
        yield FeedRepos(state, control, settings.feeds)
    finally:
        await store.close()
