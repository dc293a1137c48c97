"""Replay archives as the `FetchedPage`s live fetching would have produced.

    ReplaySource(paths) ─items()→ ReplayItem(page: FetchedPage, source, run_id) → extract → ...

Inputs, dispatched by path:
- a directory: its capture files and feed snapshots (`captures.py`), then every WARC/ARC file
  under it (`*.warc`, `*.warc.gz`, `*.arc`, `*.arc.gz`), each group in sorted path order;
- a WARC/ARC file (`warc.py`).
Unfinished archive files (`*.open`, still being written) are counted as `skip.incomplete_file`.

Feed captures are parsed with the live feed parser; their entries are kept (bounded) and joined
to the page captures that follow, by canonical URL, so a replayed page carries the very entry
(title, guid, summary, content, authors, dates) live polling gave it, with
`Origin(kind="replay", id=<archive file or directory name>, url=<feed URL>)`.  A page with no
known entry gets a bare entry from its capture (sidecar fields, if any).  Entries whose page never
appears are counted as `skip.page_missing` when the run ends.

A page's `fetched_at` is its capture time (WARC-Date, sidecar/manifest), or, when none was
recorded, the time the replay run started (`read_at`); its URL is the captured URL: the same
archive replayed with fresh state gives the same pages, in the same order, with the same event
ids, every time.  `since` (inclusive) and `until` (exclusive) filter pages on capture time
(`skip.out_of_range`; a page without one is skipped as `skip.no_capture_time` when either bound
is given); feeds are always read, for their entries.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from daemon.dedup.keys import canonical_url
from daemon.errors import FeedError, ReplayError
from daemon.records import FeedEntry, FetchedPage, Origin
from daemon.replay.captures import CaptureDirReader
from daemon.replay.items import Capture, ReplayItem, Stats, is_archive_file
from daemon.replay.warc import WarcReader
from daemon.sources.feedparse import parse_feed as live_parse_feed

_ENTRY_CACHE = 100_000


class ParsedEntries(Protocol):
    @property
    def entries(self) -> list[FeedEntry]: ...


class ParseFeed(Protocol):
    """The live feed parser's signature (`daemon.sources.feedparse.parse_feed`)."""

    def __call__(
        self,
        body: bytes,
        *,
        url: str,
        content_type: str,
        origin: Origin,
        headers: Mapping[str, str] | None = None,
    ) -> ParsedEntries: ...


def in_range(when: datetime, since: datetime | None, until: datetime | None) -> bool:
    """`since <= when < until`, naive bounds read as UTC."""
    if since is not None and when < _aware(since):
        return False
    return until is None or when < _aware(until)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class _Joiner:
    """Feed entries by canonical URL (bounded, most recent wins), joined to page captures."""

    def __init__(
        self, parse: ParseFeed, stats: Stats, read_at: datetime, size: int = _ENTRY_CACHE
    ) -> None:
        self._parse = parse
        self._read_at = read_at
        self._stats = stats
        self._size = size
        self._entries: OrderedDict[str, FeedEntry] = OrderedDict()
        self._unmatched: set[str] = set()

    def add_feed(self, capture: Capture) -> None:
        origin = Origin(kind="replay", id=capture.archive, url=capture.url)
        try:
            parsed = self._parse(
                capture.body,
                url=capture.final_url,
                content_type=capture.content_type,
                origin=origin,
            )
        except FeedError as exc:
            self._stats[f"skip.feed.{exc.reason}"] += 1
            return
        self._stats["read.entries"] += len(parsed.entries)
        for entry in parsed.entries:
            self._remember(canonical_url(entry.url), entry)

    def _remember(self, key: str, entry: FeedEntry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        self._unmatched.add(key)
        if len(self._entries) > self._size:
            evicted, _ = self._entries.popitem(last=False)
            if evicted in self._unmatched:
                self._unmatched.discard(evicted)
                self._stats["skip.page_missing"] += 1

    def page(self, capture: Capture) -> FetchedPage:
        return FetchedPage(
            entry=self._entry(capture),
            final_url=capture.final_url,
            status=capture.status,
            content_type=capture.content_type,
            body=capture.body,
            fetched_at=capture.fetched_at or self._read_at,
            is_text_capture=capture.is_text,
        )

    def _entry(self, capture: Capture) -> FeedEntry:
        for url in (capture.url, capture.final_url):
            key = canonical_url(url)
            if key in self._entries:
                self._unmatched.discard(key)
                return self._entries[key]
        meta = capture.meta
        origin = Origin(kind="replay", id=capture.archive, url=meta.feed_url)
        return FeedEntry(
            origin=origin,
            url=capture.url,
            guid=meta.guid,
            title=meta.title,
            published_at=meta.published_at,
        )

    def finish(self) -> None:
        self._stats["skip.page_missing"] += len(self._unmatched)
        self._unmatched.clear()


class ReplaySource:
    """The pages of one replay run, in a deterministic order, with counters in `stats`.

    Iterate synchronously (`for item in source`) or asynchronously (`async for item in
    source.aiter()`: each record is read in a worker thread, one at a time, so the event loop
    never blocks on archive I/O).  `stats` counts `read.*`, `emitted`, `skip.<reason>`;
    `total_bytes` / `bytes_done` drive progress and ETA.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        run_id: str,
        parse_feed: ParseFeed = live_parse_feed,
        max_body_bytes: int = 20_000_000,
        read_at: datetime | None = None,
    ) -> None:
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise ReplayError("not_found", ", ".join(missing))
        self.paths = list(paths)
        self.since, self.until, self.run_id = since, until, run_id
        self.read_at = read_at or datetime.now(UTC)  # fetched_at of captures without a time
        self.stats: Stats = Counter()
        self._parse = parse_feed
        self._max_body_bytes = max_body_bytes
        self._plan: list[tuple[str, Path]] | None = None
        self.bytes_done = 0

    def plan(self) -> list[tuple[str, Path]]:
        """The inputs in reading order: ("dir", path) capture trees and ("warc", path) files."""
        if self._plan is None:
            self._plan = [step for path in self.paths for step in self._steps(path)]
        return self._plan

    @property
    def total_bytes(self) -> int:
        """Bytes of every capture and archive file the run will read (for progress and ETA)."""
        reader = CaptureDirReader(Counter())
        sizes = [
            sum(f.stat().st_size for f in reader.files(p)) if kind == "dir" else p.stat().st_size
            for kind, p in self.plan()
        ]
        return sum(sizes)

    def _steps(self, path: Path) -> list[tuple[str, Path]]:
        if not path.is_dir():
            return [("warc", path)] if is_archive_file(path) else self._unsupported(path)
        nested = sorted(p for p in path.rglob("*") if p.is_file())
        if incomplete := sum(p.suffix == ".open" for p in nested):
            self.stats["skip.incomplete_file"] += incomplete
        return [("dir", path)] + [("warc", p) for p in nested if is_archive_file(p)]

    def _unsupported(self, path: Path) -> list[tuple[str, Path]]:
        self.stats["skip.unsupported_file"] += 1
        return []

    def __iter__(self) -> Iterator[ReplayItem]:
        return self.items()

    def items(self) -> Generator[ReplayItem, None, None]:
        """Every replayed page, in input order then record order."""
        joiner = _Joiner(self._parse, self.stats, self.read_at)
        warcs = WarcReader(self.stats, max_body_bytes=self._max_body_bytes)
        dirs = CaptureDirReader(self.stats, max_body_bytes=self._max_body_bytes)
        for kind, path in self.plan():
            start = self.bytes_done
            captures = warcs.read(path) if kind == "warc" else dirs.read(path)
            for capture in captures:
                if kind == "warc":
                    self.bytes_done = start + warcs.position
                else:
                    self.bytes_done += capture.source.stat().st_size
                item = self._item(joiner, capture)
                if item is not None:
                    yield item
            if kind == "warc":
                self.bytes_done = start + path.stat().st_size
        joiner.finish()

    def _item(self, joiner: _Joiner, capture: Capture) -> ReplayItem | None:
        self.stats[f"read.{capture.kind}"] += 1
        if capture.kind == "feed":
            joiner.add_feed(capture)
            return None
        if capture.fetched_at is None and (self.since or self.until):
            self.stats["skip.no_capture_time"] += 1
            return None
        if capture.fetched_at and not in_range(capture.fetched_at, self.since, self.until):
            self.stats["skip.out_of_range"] += 1
            return None
        self.stats["emitted"] += 1
        return ReplayItem(page=joiner.page(capture), source=capture.source, run_id=self.run_id)

    async def aiter(self) -> AsyncIterator[ReplayItem]:
        """The items, each read in a worker thread; closing early closes the readers."""
        items = self.items()
        try:
            while (item := await asyncio.to_thread(_next_or_none, items)) is not None:
                yield item
        finally:
            await asyncio.to_thread(items.close)


def _next_or_none(items: Iterator[ReplayItem]) -> ReplayItem | None:
    return next(items, None)
