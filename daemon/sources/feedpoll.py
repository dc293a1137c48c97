"""One poll of one feed, top to bottom (`FeedPoll.__call__`):

    conditional GET (If-None-Match / If-Modified-Since; none every `force_full_fetch_every` polls)
      304          → not modified: reschedule, done
      410          → retire the feed (logged `feed.retired`), never polled again under that URL
      4xx/5xx      → error streak + backoff, honouring Retry-After (429/503 above all)
      2xx          → body hash unchanged? reschedule, done (servers whose ETag lies are caught
                     by the hash, servers whose 304 lies by the periodic full fetch)
                   → parse; emit unseen entries (GUID, else link) and updates (known GUID whose
                     `updated` changed); reschedule from the entry rate and server hints

It changes the feed's `FeedState` in memory and tells the `CursorBook` what it emitted; the
loop (`daemon.sources.poller`) decides when polls run and writes the state.  Every outcome is
counted in `counts` (`poll.ok`, `poll.not_modified`, `poll.unchanged`, `poll.malformed`,
`poll.gone`, `poll.moved`, `poll.error.<reason>`, `entries.new`, `entries.updated`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import structlog
from structlog.typing import FilteringBoundLogger

from daemon.errors import FeedError, FetchError
from daemon.fetch.contract import Hop, HttpClient, HttpResponse
from daemon.records import FeedEntry, FeedSpec, Origin
from daemon.retry import parse_retry_after
from daemon.settings import PollSettings
from daemon.sources import schedule
from daemon.sources.cursor import Cursor, CursorBook
from daemon.sources.feedparse import ParsedFeed, parse_feed
from daemon.sources.feedstate import FeedState, FeedStateRepo

log: FilteringBoundLogger = structlog.get_logger(__name__)

Emit = Callable[[FeedEntry], Awaitable[None]]
PERMANENT_REDIRECTS = frozenset({301, 308})


def utcnow() -> datetime:
    return datetime.now(UTC)


def item_key(entry: FeedEntry) -> str:
    """The identity of an entry inside its feed: its GUID, else its link."""
    return entry.guid or entry.url


def _updated_value(entry: FeedEntry) -> str | None:
    return entry.updated_at.isoformat() if entry.updated_at else None


def permanent_target(hops: Sequence[Hop]) -> str | None:
    """Where the leading run of 301/308 hops points; None when the first hop is temporary.

    `A -301-> B -302-> C` moved the feed to B (C is only where B sends us today).
    """
    target = None
    for hop in hops:
        if hop.status not in PERMANENT_REDIRECTS:
            break
        target = hop.location
    return target


class FeedPoll:
    """Polls one feed per call; built once per poller, shared by its workers."""

    def __init__(
        self,
        settings: PollSettings,
        fetch: HttpClient,
        repo: FeedStateRepo,
        book: CursorBook,
        emit: Emit,
        *,
        now: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.fetch = fetch
        self.repo = repo
        self.book = book
        self.emit = emit
        self.now = now
        self.rng = rng or random.Random()
        self.counts: Counter[str] = Counter()
        self.aliases: list[tuple[str, str]] = []  # (old URL, feed id) of moved feeds, to store
        self.last_errors: dict[str, str] = {}  # feed id → reason of its current error streak
        self._bounds_of: dict[str, schedule.Bounds] = {}

    def forget_bounds(self, feed_id: str) -> None:
        """The feed's spec changed: compute its interval bounds afresh."""
        self._bounds_of.pop(feed_id, None)

    async def __call__(self, spec: FeedSpec, state: FeedState) -> None:
        """Poll one feed now; never raises (every failure is counted and rescheduled)."""
        flog = log.bind(feed_id=spec.feed_id, url=state.url)
        try:
            await self._poll(spec, state, flog)
        except Exception as exc:  # a bug or a store failure must not stop the other feeds
            flog.exception("feed.error", reason="internal")
            self._failed(spec, state, f"internal.{type(exc).__name__}", None, flog)

    async def _poll(self, spec: FeedSpec, state: FeedState, flog: FilteringBoundLogger) -> None:
        full = state.polls_since_full + 1 >= self.settings.force_full_fetch_every
        headers = {} if full else _conditional_headers(state)
        try:
            response = await self.fetch.get(state.url, kind="feed", headers=headers)
        except FetchError as exc:
            self._failed(spec, state, exc.reason, exc.retry_after, flog)
            return
        state.polls_since_full = 0 if not headers else state.polls_since_full + 1
        status = response.status
        if status == 304:
            self._not_modified(spec, state, response, flog)
        elif 200 <= status < 300:
            await self._fetched(spec, state, response, flog)
        elif status == 410:
            self._retire(state, flog)
        else:
            retry_after = parse_retry_after(response.headers.get("retry-after", ""), now=self.now())
            self._failed(spec, state, f"http_{status}", retry_after, flog)

    def _not_modified(
        self, spec: FeedSpec, state: FeedState, response: HttpResponse, flog: FilteringBoundLogger
    ) -> None:
        self.counts["poll.not_modified"] += 1
        self._track_redirects(state, response, flog)
        self._succeeded(spec, state, response, new_entries=0)
        flog.debug("feed.not_modified", next_poll_at=state.next_poll_at)

    async def _fetched(
        self, spec: FeedSpec, state: FeedState, response: HttpResponse, flog: FilteringBoundLogger
    ) -> None:
        body_hash = hashlib.blake2b(response.body, digest_size=16).hexdigest()
        if body_hash == state.body_hash:
            # RFC 9110 §8.8.3 lets a server send a new ETag for the same bytes (or the same ETag
            # for new bytes): the body itself decides.
            self.counts["poll.unchanged"] += 1
            self._track_redirects(state, response, flog)
            self.book.begin(spec.feed_id)
            self.book.polled(spec.feed_id, Cursor(*_validators(response), body_hash))
            self._succeeded(spec, state, response, new_entries=0)
            return
        try:
            feed = await asyncio.to_thread(self._parse, spec, state, response)
        except FeedError as exc:
            self._failed(spec, state, exc.reason, None, flog)
            return
        self._track_redirects(state, response, flog)
        await self._process(spec, state, response, feed, body_hash, flog)

    def _parse(self, spec: FeedSpec, state: FeedState, response: HttpResponse) -> ParsedFeed:
        return parse_feed(
            response.body,
            url=response.final_url or state.url,
            content_type=response.headers.get("content-type", ""),
            origin=Origin(kind="feed", id=spec.feed_id, url=state.url, source=spec.source()),
            headers=response.headers,
        )

    async def _process(
        self,
        spec: FeedSpec,
        state: FeedState,
        response: HttpResponse,
        feed: ParsedFeed,
        body_hash: str,
        flog: FilteringBoundLogger,
    ) -> None:
        self.counts["poll.ok"] += 1
        if feed.malformed:
            self.counts["poll.malformed"] += 1
        if feed.invalid_values:
            self.counts["poll.invalid_values"] += feed.invalid_values
        self.book.begin(spec.feed_id)
        fresh = await self._fresh_entries(spec, feed)
        await self._emit_all(spec.feed_id, fresh)
        # Every new entry of this body is out (or done): once none is out, its cursor is stored.
        self.book.polled(spec.feed_id, Cursor(*_validators(response), body_hash))
        new = sum(1 for e in fresh if not e.is_update)
        self.counts["entries.new"] += new
        self.counts["entries.updated"] += len(fresh) - new
        hints = (feed.ttl, feed.sy_update_period)
        state.feed_ttl = max((h for h in hints if h), default=None)
        self._succeeded(spec, state, response, new_entries=new, feed=feed)
        flog.info(
            "feed.polled",
            status=response.status,
            entries=len(feed.entries),
            new=new,
            updated=len(fresh) - new,
            malformed=feed.malformed,
        )

    async def _fresh_entries(self, spec: FeedSpec, feed: ParsedFeed) -> list[FeedEntry]:
        """Entries never published before, and known ones whose `updated` value changed."""
        seen = await self.repo.seen(spec.feed_id)
        for key, updated in self.book.seen_pending(spec.feed_id):
            seen[key] = updated
        in_flight = self.book.out(spec.feed_id)
        fresh: list[FeedEntry] = []
        taken: set[str] = set()
        for entry in feed.entries:
            key = item_key(entry)
            if key in taken or key in in_flight:
                continue
            taken.add(key)
            updated = _updated_value(entry)
            if key not in seen:
                fresh.append(self._localized(spec, entry))
            elif updated is not None and seen[key] != updated:
                fresh.append(dataclasses.replace(self._localized(spec, entry), is_update=True))
        return fresh

    @staticmethod
    def _localized(spec: FeedSpec, entry: FeedEntry) -> FeedEntry:
        if spec.language and not entry.language:
            return dataclasses.replace(entry, language=spec.language)
        return entry

    async def _emit_all(self, feed_id: str, fresh: list[FeedEntry]) -> None:
        async def settle(entry: FeedEntry, done: bool) -> None:
            self.book.settled(feed_id, item_key(entry), _updated_value(entry), done=done)

        for entry in fresh:
            key = item_key(entry)
            self.book.emitting(feed_id, key)
            try:
                await self.emit(dataclasses.replace(entry, settle=settle))
            except BaseException:
                self.book.not_emitted(feed_id, key)
                raise

    # ------------------------------------------------------------ outcomes

    def _bounds(self, spec: FeedSpec) -> schedule.Bounds:
        # Specs and settings are fixed for the poller's life: build each feed's bounds once.
        bounds = self._bounds_of.get(spec.feed_id)
        if bounds is None:
            bounds = self._bounds_of[spec.feed_id] = self._make_bounds(spec)
        return bounds

    def _make_bounds(self, spec: FeedSpec) -> schedule.Bounds:
        s = self.settings
        low = spec.min_interval or s.min_interval
        high = max(spec.max_interval or s.max_interval, low)
        return schedule.Bounds(
            min_interval=low,
            max_interval=high,
            default_interval=min(max(s.default_interval, low), high),
            backoff_base=s.backoff_base,
            backoff_cap=s.backoff_cap,
            jitter=s.jitter,
        )

    def _succeeded(
        self,
        spec: FeedSpec,
        state: FeedState,
        response: HttpResponse,
        *,
        new_entries: int,
        feed: ParsedFeed | None = None,
    ) -> None:
        now = self.now()
        ts = now.timestamp()
        elapsed = ts - state.last_success_at if state.last_success_at else 0.0
        published = [e.published_at for e in feed.entries if e.published_at] if feed else []
        state.entry_rate = schedule.updated_rate(
            state.entry_rate, new_entries=new_entries, elapsed=elapsed, now=now, published=published
        )
        if new_entries:
            state.last_new_item_at = ts
        state.error_streak = 0
        self.last_errors.pop(spec.feed_id, None)
        state.last_success_at = ts
        hints = schedule.hints_from_headers(response.headers, now=now, ttl=state.feed_ttl)
        at = schedule.next_after_success(
            now=now, rate=state.entry_rate, hints=hints, bounds=self._bounds(spec), rng=self.rng
        )
        state.next_poll_at = at.timestamp()

    def _failed(
        self,
        spec: FeedSpec,
        state: FeedState,
        reason: str,
        retry_after: float | None,
        flog: FilteringBoundLogger,
    ) -> None:
        self.counts[f"poll.error.{reason}"] += 1
        self.last_errors[spec.feed_id] = reason
        state.error_streak += 1
        state.last_error, state.last_error_at = reason, self.now().timestamp()
        at = schedule.next_after_error(
            now=self.now(),
            streak=state.error_streak,
            retry_after=retry_after,
            bounds=self._bounds(spec),
            rng=self.rng,
        )
        state.next_poll_at = at.timestamp()
        flog.warning(
            "feed.error",
            reason=reason,
            streak=state.error_streak,
            retry_after=retry_after,
            next_poll_at=state.next_poll_at,
        )

    def _retire(self, state: FeedState, flog: FilteringBoundLogger) -> None:
        self.counts["poll.gone"] += 1
        state.retired = True
        state.next_poll_at = None
        flog.warning("feed.retired", reason="http_410")

    def _track_redirects(
        self, state: FeedState, response: HttpResponse, flog: FilteringBoundLogger
    ) -> None:
        """Count consistent 301/308 answers; move the feed after `redirect_confirmations`."""
        target = permanent_target(response.redirects)
        if target is None or target == state.url:
            state.redirect_url, state.redirect_count = None, 0
            return
        if target == state.redirect_url:
            state.redirect_count += 1
        else:
            state.redirect_url, state.redirect_count = target, 1
        if state.redirect_count >= self.settings.redirect_confirmations:
            self.counts["poll.moved"] += 1
            self.aliases.append((state.url, state.feed_id))
            flog.info("feed.moved", new_url=target, confirmations=state.redirect_count)
            state.url, state.redirect_url, state.redirect_count = target, None, 0


def _conditional_headers(state: FeedState) -> dict[str, str]:
    headers: dict[str, str] = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _validators(response: HttpResponse) -> tuple[str | None, str | None]:
    return response.headers.get("etag"), response.headers.get("last-modified")
