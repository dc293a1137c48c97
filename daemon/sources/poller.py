"""The feed poller: the loop that takes due feeds and polls them with bounded concurrency.

Three pieces, one idea each:
- `Poller` (here): the loop.  Every `poll.tick` it queues the feeds that are due (not retired,
  not already being polled); `poll.concurrency` workers poll them; the state is written every
  tick (`flush()`).
- `FeedPoll` (`daemon.sources.feedpoll`): one poll of one feed, every outcome counted.
- `CursorBook` (`daemon.sources.cursor`): which entries are out, and when a feed's cursor may
  move.  The at-least-once rule: state moves forward only after the broker acknowledged; the
  cursor never moves past an entry that is not done, so the next poll (or the next process,
  after a crash or a stop) fetches in full and offers it again.  Entries still out are not
  emitted twice by an overlapping poll.

Stopping (`run` after `stop` is set): intake stops at once.  No new poll starts, and a poll in
progress is cancelled, so it emits nothing more; what it did not emit is left for the next start.
Call `close()` (or `flush()`) after the pipeline has stopped so the last settlements are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from daemon.fetch.contract import HttpClient
from daemon.records import FeedSpec
from daemon.settings import PollSettings
from daemon.sources.cursor import CursorBook
from daemon.sources.feedcontrol import FeedSet
from daemon.sources.feedpoll import Emit, FeedPoll, utcnow
from daemon.sources.feedstate import FeedState, FeedStateRepo

_SETTLE_CHECK = 0.05  # seconds between checks for a released feed's polls and entries in flight


class Poller:
    """Polls a fixed set of feeds; see the module docstring for the rules it keeps."""

    def __init__(
        self,
        settings: PollSettings,
        feeds: Sequence[FeedSpec],
        fetch: HttpClient,
        state: FeedStateRepo,
        emit: Emit,
        *,
        now: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.feeds = {spec.feed_id: spec for spec in feeds}
        self.repo = state
        self.now = now
        self.states: dict[str, FeedState] = {}
        self.book = CursorBook(self.states)
        self.one = FeedPoll(settings, fetch, state, self.book, emit, now=now, rng=rng)
        self._started = False
        self._busy: set[str] = set()
        self.inactive: set[str] = set()  # paused or removed at run time: not scheduled

    @property
    def counts(self) -> Counter[str]:
        """Every poll outcome so far (see `daemon.sources.feedpoll`)."""
        return self.one.counts

    @property
    def last_errors(self) -> dict[str, str]:
        """Feed id → reason of its current error streak."""
        return self.one.last_errors

    @property
    def emit(self) -> Emit:
        return self.one.emit

    @emit.setter
    def emit(self, emit: Emit) -> None:
        self.one.emit = emit

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Create the tables and load the stored state of every configured feed (idempotent)."""
        if self._started:
            return
        await self.repo.start()
        stored = await self.repo.load()
        aliases = await self.repo.aliases()
        for spec in self.feeds.values():
            self.states[spec.feed_id] = self._reconcile(spec, stored.get(spec.feed_id), aliases)
        self._started = True

    def _reconcile(
        self, spec: FeedSpec, stored: FeedState | None, aliases: Mapping[str, str]
    ) -> FeedState:
        if stored is None:
            return FeedState(feed_id=spec.feed_id, url=spec.url)
        if spec.url != stored.url and aliases.get(spec.url) != spec.feed_id:
            # The configured URL changed by hand: start that feed over (and un-retire it).
            return FeedState(feed_id=spec.feed_id, url=spec.url)
        return stored

    async def apply(self, feeds: FeedSet) -> None:
        """Adopt a new feed set while running (`newsd feeds ...`, SIGHUP).

        A new feed starts from its stored state (cursor kept from an earlier life); a removed or
        paused one is no longer scheduled, but its state stays here so polls in flight settle
        and its cursor is flushed; a feed in `unretire` is polled again at the next tick.
        """
        await self.start()
        wanted = {spec.feed_id: spec for spec in feeds.specs}
        stored = await self.repo.load() if wanted.keys() - self.states.keys() else {}
        aliases = await self.repo.aliases() if stored else {}
        for feed_id, spec in wanted.items():
            if feed_id not in self.states:
                self.states[feed_id] = self._reconcile(spec, stored.get(feed_id), aliases)
            if self.feeds.get(feed_id) != spec:
                self.feeds[feed_id] = spec
                self.one.forget_bounds(feed_id)
            if feed_id in feeds.unretire and self.states[feed_id].retired:
                self.states[feed_id].retired = False
                self.states[feed_id].next_poll_at = None
                self.book.dirty.add(feed_id)
        removed = self.states.keys() - wanted.keys()
        for feed_id in removed:
            self.last_errors.pop(feed_id, None)
        self.inactive = removed | set(feeds.paused)

    async def release(self, feed_ids: Iterable[str], *, timeout: float) -> frozenset[str]:
        """Stop polling `feed_ids` (they moved to another instance): no new poll starts, polls
        and entries in flight get up to `timeout` seconds to finish, the state is stored, then
        the feeds are forgotten here (a later `apply` loads them afresh from the store).
        Returns the feeds still busy at the timeout: they stay, unscheduled, until they settle."""
        ids = frozenset(feed_ids) & self.states.keys()
        self.inactive |= ids
        for _ in range(max(1, round(timeout / _SETTLE_CHECK))):
            if not self._in_flight(ids):
                break
            await asyncio.sleep(_SETTLE_CHECK)
        await self.flush()
        busy = self._in_flight(ids)
        for feed_id in ids - busy:
            del self.states[feed_id]
            self.feeds.pop(feed_id, None)
            self.one.forget_bounds(feed_id)
            self.last_errors.pop(feed_id, None)
            self.book.forget(feed_id)
        return busy

    def _in_flight(self, feed_ids: frozenset[str]) -> frozenset[str]:
        return frozenset(f for f in feed_ids if f in self._busy or self.book.out(f))

    async def close(self) -> None:
        """Store everything settled so far."""
        await self.flush()

    async def flush(self) -> None:
        """Write seen keys, aliases and changed feed states to the store."""
        now = self.now().timestamp()
        # Seen keys first: a crash between the two writes redoes work, never hides an entry.
        await self.repo.record_seen(self.book.take_seen(), now=now)
        aliases, self.one.aliases = self.one.aliases, []
        for url, feed_id in aliases:
            await self.repo.add_alias(url, feed_id)
        dirty, self.book.dirty = self.book.dirty, set()
        await self.repo.save(self.states[f] for f in dirty)

    # ------------------------------------------------------------ loops

    async def run_once(self) -> None:
        """Poll every feed that is not retired once, regardless of schedule, then flush."""
        await self.start()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        for feed_id, state in self.states.items():
            if not state.retired and feed_id not in self.inactive:
                queue.put_nowait(feed_id)
        await self._work(queue, until_empty=True)
        await self.flush()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll due feeds every `poll.tick` until `stop` is set, then stop intake at once:
        polls in progress are cancelled (what they did not emit is offered again later)."""
        await self.start()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        async with asyncio.TaskGroup() as group:
            work = group.create_task(self._work(queue, until_empty=False))
            while not stop.is_set():
                self._enqueue_due(queue)
                await self.flush()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.tick)
            work.cancel()
        self._busy.clear()
        await self.flush()

    def _enqueue_due(self, queue: asyncio.Queue[str | None]) -> None:
        now = self.now().timestamp()
        for feed_id, state in self.states.items():
            due = state.next_poll_at is None or state.next_poll_at <= now
            idle = feed_id not in self._busy and feed_id not in self.inactive
            if due and not state.retired and idle:
                self._busy.add(feed_id)
                queue.put_nowait(feed_id)

    async def _work(self, queue: asyncio.Queue[str | None], *, until_empty: bool) -> None:
        """`poll.concurrency` workers drain `queue`; None (or no work, `until_empty`) ends one."""

        async def worker() -> None:
            while True:
                if until_empty and queue.empty():
                    return
                feed_id = await queue.get()
                if feed_id is None:
                    return
                try:
                    await self.poll(feed_id)
                finally:
                    self._busy.discard(feed_id)

        async with asyncio.TaskGroup() as group:
            for _ in range(self.settings.concurrency):
                group.create_task(worker())

    async def poll(self, feed_id: str) -> None:
        """Poll one feed now; never raises (every failure is counted and rescheduled)."""
        try:
            await self.one(self.feeds[feed_id], self.states[feed_id])
        finally:
            self.book.dirty.add(feed_id)
