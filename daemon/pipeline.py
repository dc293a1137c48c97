"""The only wiring: stages, bounded queues, workers, ordered acknowledgements, drain.

    entries → [fetch ×N] → pages → [extract ×M] → articles → [dedup+send ×1] → deliveries → [ack ×1]
                             ↑ replay puts pages here       (dedup, then stories, then send)

- Every queue is bounded, so a slow broker slows the pollers down instead of growing memory.
- Dedup runs in one task, so its decisions are sequential and messages are handed to the
  producer in decision order (an original before its reposts, same key, same partition).
- The acker awaits deliveries in that same order; only after the broker acknowledged an event
  does state move forward: the dedup index records the document (`deduper.commit`), the story
  stage records the article (`storyteller.commit`, once its story summary is acknowledged too)
  and the source marks the entry done (`entry.settle(entry, True)`).  A crash before that means
  redo, never loss and never a false "duplicate".
- `Skip` and `NewsdError` are caught per record, logged and counted by stage and reason; one bad
  record never stops the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import structlog

from daemon.errors import NewsdError, SinkError, Skip
from daemon.events import (
    ArticleEvent,
    ErrorEvent,
    article_event,
    cloudevent_headers,
    error_event,
    story_headers,
)
from daemon.observability.metrics import Metrics
from daemon.records import Article, FeedEntry, FetchedPage, Verdict
from daemon.settings import PipelineSettings
from daemon.sinks.base import Channel, OutMessage, Sink
from daemon.stories.storyteller import StoryVerdict, story_event

log = structlog.get_logger(__name__)
T = TypeVar("T")

_CHANNELS: dict[str, Channel] = {
    "article.new": "articles",
    "article.duplicate": "duplicates",
    "article.updated": "updates",
}


class FetchStage(Protocol):
    async def __call__(self, entry: FeedEntry) -> FetchedPage: ...


class ExtractStage(Protocol):
    async def __call__(self, page: FetchedPage) -> Article: ...


class DedupStage(Protocol):
    async def decide(self, article: Article) -> Verdict: ...
    async def commit(self, article: Article, verdict: Verdict) -> None: ...
    async def release(self, article: Article, verdict: Verdict) -> None: ...


class StoryStage(Protocol):
    async def decide(self, article: Article, verdict: Verdict, event_id: str) -> StoryVerdict: ...
    async def commit(self, verdict: StoryVerdict) -> None: ...
    async def release(self, verdict: StoryVerdict) -> None: ...


@dataclass(frozen=True, slots=True)
class _InFlight:
    delivery: Awaitable[None]
    entry: FeedEntry
    article: Article | None
    verdict: Verdict | None
    event_type: str
    story: StoryVerdict | None = None


class Pipeline:
    """Runs the stages between bounded queues; `feed()` / `feed_page()` put work in."""

    def __init__(
        self,
        settings: PipelineSettings,
        *,
        fetcher: FetchStage,
        extractor: ExtractStage,
        deduper: DedupStage,
        sink: Sink,
        metrics: Metrics,
        extract_workers: int = 2,
        max_in_flight: int = 1000,
        extra_headers: dict[str, str] | None = None,
        on_outcome: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        storyteller: StoryStage | None = None,
    ) -> None:
        self.settings = settings
        self.fetcher, self.extractor, self.deduper, self.sink = fetcher, extractor, deduper, sink
        self.storyteller = storyteller
        self.metrics = metrics
        self.extract_workers = extract_workers
        self.extra_headers = extra_headers or {}
        self.clock = clock
        self.on_outcome = on_outcome or (lambda outcome: None)
        size = settings.queue_size
        self.entries: asyncio.Queue[FeedEntry] = asyncio.Queue(size)
        self.pages: asyncio.Queue[FetchedPage] = asyncio.Queue(size)
        self.articles: asyncio.Queue[Article] = asyncio.Queue(size)
        self.in_flight: asyncio.Queue[_InFlight] = asyncio.Queue(max_in_flight)
        self._tasks: list[asyncio.Task[None]] = []

    # -- intake -------------------------------------------------------------------------------

    async def feed(self, entry: FeedEntry) -> None:
        """Put one feed entry in; waits while the pipeline is full (back-pressure)."""
        self.metrics.incr("intake.entries")
        await self.entries.put(entry)

    async def feed_page(self, page: FetchedPage) -> None:
        """Put one already-fetched page in (replay); waits while the pipeline is full."""
        self.metrics.incr("intake.pages")
        await self.pages.put(page)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers on the running loop."""
        self._spawn(self._fetch_worker, self.settings.fetch_workers)
        self._spawn(self._extract_worker, self.extract_workers)
        self._spawn(self._dedup_worker, 1)
        self._spawn(self._ack_worker, 1)

    def _spawn(self, worker: Callable[[], Coroutine[Any, Any, None]], count: int) -> None:
        for _ in range(count):
            self._tasks.append(asyncio.create_task(worker()))

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every record put in so far has left the pipeline; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                for queue in (self.entries, self.pages, self.articles, self.in_flight):
                    await queue.join()
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Cancel the workers; whatever was still queued is settled as not done (redo)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self._abandon_queued()

    async def _abandon_queued(self) -> None:
        entries = _drain_nowait(self.entries)
        entries += [p.entry for p in _drain_nowait(self.pages)]
        entries += [a.entry for a in _drain_nowait(self.articles)]
        entries += [f.entry for f in _drain_nowait(self.in_flight)]
        for entry in entries:
            await self._settle(entry, done=False)
        if entries:
            self.metrics.incr("shutdown.abandoned", len(entries))

    # -- workers ------------------------------------------------------------------------------

    async def _fetch_worker(self) -> None:
        while True:
            entry = await self.entries.get()
            try:
                with structlog.contextvars.bound_contextvars(url=entry.url, feed=entry.origin.id):
                    page = await self._guard("fetch", entry, self.fetcher(entry))
                if page is not None:
                    await self.pages.put(page)
            finally:
                self.entries.task_done()

    async def _extract_worker(self) -> None:
        while True:
            page = await self.pages.get()
            try:
                with structlog.contextvars.bound_contextvars(url=page.entry.url):
                    article = await self._guard("extract", page.entry, self.extractor(page))
                if article is not None:
                    self.metrics.incr(f"extract.{article.extraction}")
                    await self.articles.put(article)
            finally:
                self.pages.task_done()

    async def _dedup_worker(self) -> None:
        while True:
            article = await self.articles.get()
            try:
                with structlog.contextvars.bound_contextvars(url=article.url):
                    await self._guard("publish", article.entry, self._publish_article(article))
            finally:
                self.articles.task_done()

    async def _publish_article(self, article: Article) -> None:
        if not article.text.strip():
            await self._fail(article.entry, "extract", article.extraction, "no text")
            return
        verdict = await self._guard("dedup", article.entry, self.deduper.decide(article))
        if verdict is None:
            return
        self.metrics.incr(f"dedup.{verdict.kind}")
        event = article_event(article, verdict)
        story = await self._story(article, verdict, event.event_id)
        if story is not None:
            event = event.model_copy(
                update={"story_id": story.story_id, "story_size": story.story_size}
            )
        message = self._message(_CHANNELS[event.type], event.cluster_id, event)
        await self._send(message, article.entry, article, verdict, event.type, story)

    async def _story(self, article: Article, verdict: Verdict, eid: str) -> StoryVerdict | None:
        """The story stage's decision; a failure there costs the story fields, not the article."""
        if self.storyteller is None:
            return None
        try:
            story = await self.storyteller.decide(article, verdict, eid)
        except Exception as exc:
            self.metrics.incr("stories.error.internal_error")
            log.exception("stories.failed", error=repr(exc))
            return None
        self.metrics.incr("stories.joined" if story.story_id != eid else "stories.new")
        return story

    async def _ack_worker(self) -> None:
        while True:
            item = await self.in_flight.get()
            try:
                await self._acknowledge(item)
            finally:
                self.in_flight.task_done()

    async def _acknowledge(self, item: _InFlight) -> None:
        try:
            await item.delivery
        except SinkError as exc:
            self.metrics.incr(f"publish.error.{exc.reason}")
            log.error("publish.failed", url=item.entry.url, reason=exc.reason, detail=exc.detail)
            if item.article is not None and item.verdict is not None:
                await self.deduper.release(item.article, item.verdict)
            await self._release_story(item.story)
            await self._settle(item.entry, done=False)
            return
        if item.article is not None and item.verdict is not None:
            await self._commit(item.article, item.verdict)
        await self._commit_story(item.story)
        self.metrics.incr(f"publish.ok.{item.event_type}")
        self.on_outcome(item.event_type)
        await self._settle(item.entry, done=True)

    # -- helpers ------------------------------------------------------------------------------

    async def _guard(self, stage: str, entry: FeedEntry, work: Awaitable[T]) -> T | None:
        """Run one stage call; a `Skip` or an error ends the record here, counted and logged."""
        try:
            return await work
        except Skip as skip:
            self.metrics.incr(f"{stage}.skip.{skip.reason}")
            self.on_outcome(f"skip.{skip.reason}")
            log.info("record.skipped", stage=stage, reason=skip.reason)
            await self._settle(entry, done=True)
        except SinkError as exc:
            self.metrics.incr(f"publish.error.{exc.reason}")
            log.error("publish.failed", stage=stage, reason=exc.reason, detail=exc.detail)
            await self._settle(entry, done=False)
        except NewsdError as exc:
            await self._fail(entry, stage, exc.reason, exc.detail)
        except Exception as exc:  # a bug must cost one record, never the daemon
            log.exception("record.internal_error", stage=stage)
            await self._fail(entry, stage, "internal_error", repr(exc))
        return None

    async def _fail(self, entry: FeedEntry, stage: str, reason: str, detail: str) -> None:
        """An item failed for good: publish it, with its reason, to the errors topic."""
        self.metrics.incr(f"{stage}.error.{reason}")
        log.warning("record.failed", stage=stage, reason=reason, detail=detail)
        event = error_event(entry, stage, reason, detail)
        message = self._message("errors", event.event_id, event)
        await self._send(message, entry, None, None, event.type)

    async def _send(
        self,
        message: OutMessage,
        entry: FeedEntry,
        article: Article | None,
        verdict: Verdict | None,
        event_type: str,
        story: StoryVerdict | None = None,
    ) -> None:
        try:
            delivery = await self.sink.send(message)
            if story is not None:  # the summary goes out with the article; both must be acked
                delivery = _both(delivery, await self.sink.send(self._story_message(story)))
        except SinkError as exc:
            self.metrics.incr(f"publish.error.{exc.reason}")
            log.error("publish.failed", reason=exc.reason, detail=exc.detail)
            if article is not None and verdict is not None:
                await self.deduper.release(article, verdict)
            await self._release_story(story)
            await self._settle(entry, done=False)
            return
        await self.in_flight.put(_InFlight(delivery, entry, article, verdict, event_type, story))

    def _story_message(self, story: StoryVerdict) -> OutMessage:
        event = story_event(story.summary)
        headers = story_headers(event, time=self.clock())
        value = event.model_dump_json().encode("utf-8")
        return OutMessage("stories", event.story_id.encode("utf-8"), value, tuple(headers))

    def _message(self, channel: Channel, key: str, event: ArticleEvent | ErrorEvent) -> OutMessage:
        headers = cloudevent_headers(event, time=self.clock(), extra=self.extra_headers)
        value = event.model_dump_json(exclude_none=False).encode("utf-8")
        return OutMessage(channel, key.encode("utf-8"), value, tuple(headers))

    async def _commit(self, article: Article, verdict: Verdict) -> None:
        """Record an acknowledged article in the dedup index; a failure is counted, not fatal
        (the event is out; at worst a later copy is published as new instead of duplicate)."""
        try:
            await self.deduper.commit(article, verdict)
        except Exception as exc:
            self.metrics.incr("dedup.commit_failed")
            log.error("dedup.commit_failed", url=article.url, error=repr(exc))

    async def _commit_story(self, story: StoryVerdict | None) -> None:
        """Record an acknowledged article in the story index; a failure is counted, not fatal."""
        if story is None or self.storyteller is None:
            return
        try:
            await self.storyteller.commit(story)
        except Exception as exc:
            self.metrics.incr("stories.commit_failed")
            log.error("stories.commit_failed", story_id=story.story_id, error=repr(exc))

    async def _release_story(self, story: StoryVerdict | None) -> None:
        if story is not None and self.storyteller is not None:
            await self.storyteller.release(story)

    async def _settle(self, entry: FeedEntry, *, done: bool) -> None:
        if not done:
            self.on_outcome("skip.not_published")
        if entry.settle is None:
            return
        try:
            await entry.settle(entry, done)
        except Exception as exc:
            self.metrics.incr("settle.error")
            log.error("settle.failed", url=entry.url, error=repr(exc))


async def _both(first: Awaitable[None], second: Awaitable[None]) -> None:
    """Await two deliveries in order; the first failure is raised (after the other settled)."""
    results = await asyncio.gather(first, second, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _drain_nowait(queue: asyncio.Queue[T]) -> list[T]:
    items: list[T] = []
    with contextlib.suppress(asyncio.QueueEmpty):
        while True:
            items.append(queue.get_nowait())
            queue.task_done()
    return items
