"""The only wiring: stages, bounded queues, workers, ordered acknowledgements, drain.

    entries → [fetch ×N] → pages → [extract ×M] → reorder → [dedup+send ×1] → deliveries → [ack ×1]
                             ↑ replay puts pages here       (dedup, then stories, then send)

- Every record gets a ticket at intake; the reorder buffer after the extraction pool hands the
  dedup stage articles (and failures, published as error events) in intake order, so decisions
  and events do not depend on which worker finished first (`pipeline.ordered`).

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
- A worker that dies anyway (a bug outside the per-record guard) is logged with its traceback
  and, under the caller's `TaskGroup`, stops the daemon: a loud exit, never a silent hang.
- "Not published" has one path (`_unpublished`): counted, logged, dedup decision released,
  entry settled as not done (redo), whether the sink refused the send or the delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
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
from daemon.observability.readiness import PublishState
from daemon.records import Article, FeedEntry, FetchedPage, Verdict
from daemon.reorder import ReorderBuffer
from daemon.settings import PipelineSettings
from daemon.sinks.base import Channel, OutMessage, Sink
from daemon.sinks.fit import fit
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


class ForwardStage(Protocol):
    async def __call__(self, article: Article) -> Awaitable[None]: ...


class StoryStage(Protocol):
    async def decide(self, article: Article, verdict: Verdict, event_id: str) -> StoryVerdict: ...
    async def commit(self, verdict: StoryVerdict) -> None: ...
    async def release(self, verdict: StoryVerdict) -> None: ...


@dataclass(frozen=True, slots=True)
class _Failed:
    """A record that failed for good in fetch or extract; published in its intake turn."""

    entry: FeedEntry
    stage: str
    reason: str
    detail: str
    at: datetime | None = None  # replays: the page's archive time, so a replay is reproducible


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
        forward: ForwardStage | None = None,
    ) -> None:
        self.settings = settings
        self.fetcher, self.extractor, self.deduper, self.sink = fetcher, extractor, deduper, sink
        self.storyteller = storyteller
        self.forward = forward  # cluster mode: articles go to the dedup owner, not to dedup here
        self.metrics = metrics
        self.extract_workers = extract_workers
        self.extra_headers = extra_headers or {}
        self.clock = clock
        self.on_outcome = on_outcome or (lambda outcome: None)
        size = settings.queue_size
        self.entries: asyncio.Queue[tuple[int, FeedEntry]] = asyncio.Queue(size)
        self.pages: asyncio.Queue[tuple[int, FetchedPage]] = asyncio.Queue(size)
        self.articles: ReorderBuffer[Article | _Failed] = ReorderBuffer(
            settings.reorder_window, ordered=settings.ordered
        )
        self.in_flight: asyncio.Queue[_InFlight] = asyncio.Queue(max_in_flight)
        self.publish = PublishState()
        self.died: BaseException | None = None  # the first worker's death, if any
        self._tasks: list[asyncio.Task[None]] = []
        self._intake_at: dict[int, float] = {}  # id(entry) → monotonic time it came in
        self._acker: asyncio.Task[None] | None = None

    # -- intake -------------------------------------------------------------------------------

    async def feed(self, entry: FeedEntry) -> None:
        """Put one feed entry in; waits while the pipeline is full (back-pressure)."""
        self.metrics.incr("intake.entries")
        self._intake_at[id(entry)] = time.monotonic()
        await self.entries.put((await self.articles.ticket(), entry))

    async def feed_page(self, page: FetchedPage) -> None:
        """Put one already-fetched page in (replay); waits while the pipeline is full."""
        self.metrics.incr("intake.pages")
        self._intake_at[id(page.entry)] = time.monotonic()
        await self.pages.put((await self.articles.ticket(), page))

    async def feed_article(self, article: Article) -> None:
        """Put one already-extracted article in (the cluster's dedup owner); waits while full."""
        self.metrics.incr("intake.articles")
        self._intake_at[id(article.entry)] = time.monotonic()
        self.articles.put(await self.articles.ticket(), article)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, group: asyncio.TaskGroup | None = None) -> None:
        """Start the workers on the running loop, under `group` when given: a worker that dies
        then cancels the group's owner, which sees the error when the group exits."""
        spawn = group.create_task if group is not None else asyncio.create_task
        self._spawn(spawn, "fetch", self._fetch_worker, self.settings.fetch_workers)
        self._spawn(spawn, "extract", self._extract_worker, self.extract_workers)
        self._spawn(spawn, "dedup", self._dedup_worker, 1)
        self._acker = spawn(self._ack_worker(), name="pipeline.ack.0")
        self._acker.add_done_callback(self._on_worker_exit)

    def _spawn(
        self,
        spawn: Callable[..., asyncio.Task[None]],
        name: str,
        worker: Callable[[], Coroutine[Any, Any, None]],
        count: int,
    ) -> None:
        for index in range(count):
            task = spawn(worker(), name=f"pipeline.{name}.{index}")
            task.add_done_callback(self._on_worker_exit)
            self._tasks.append(task)

    def _on_worker_exit(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        self.died = self.died or task.exception()
        self.metrics.incr("pipeline.worker_died")
        log.error("pipeline.worker_died", worker=task.get_name(), exc_info=task.exception())

    @property
    def alive(self) -> bool:
        """True while every worker runs (the `/healthz` promise)."""
        workers = [*self._tasks, *([self._acker] if self._acker is not None else [])]
        return bool(workers) and not any(task.done() for task in workers)

    def depths(self) -> dict[str, int]:
        """Records waiting in each queue, and events awaiting the broker's acknowledgement."""
        return {
            "entries": self.entries.qsize(),
            "pages": self.pages.qsize(),
            "articles": len(self.articles),
            "in_flight": self.publish.pending,
        }

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every record put in so far has left the pipeline; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self.entries.join()
                await self.pages.join()
                await self.articles.join()
                await self.in_flight.join()
        except TimeoutError:
            return False
        return True

    async def stop(self, ack_wait: float = 5.0) -> None:
        """Stop taking work and end every worker; what is left is settled not done (redo).

        Fetch, extract and dedup workers are cancelled at once.  Events already handed to the
        sink get up to `ack_wait` seconds for their acknowledgements, so work the broker took
        is not redone; then the acker is cancelled too and everything still queued is
        abandoned (settled not done).  Idempotent.
        """
        await _cancel(self._tasks)
        self._tasks.clear()
        if self._acker is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ack_wait):
                    await self.in_flight.join()
            await _cancel([self._acker])
            self._acker = None
        await self._abandon_queued()

    async def _abandon_queued(self) -> None:
        entries = [e for _, e in _drain_nowait(self.entries)]
        entries += [p.entry for _, p in _drain_nowait(self.pages)]
        entries += [a.entry for a in self.articles.abandon()]
        in_flight = _drain_nowait(self.in_flight)
        for item in in_flight:
            _discard(item.delivery)
        entries += [item.entry for item in in_flight]
        for entry in entries:
            await self._settle(entry, done=False)
        if entries:
            self.metrics.incr("shutdown.abandoned", len(entries))

    # -- workers ------------------------------------------------------------------------------

    async def _fetch_worker(self) -> None:
        while True:
            seq, entry = await self.entries.get()
            try:
                with structlog.contextvars.bound_contextvars(url=entry.url, feed=entry.origin.id):
                    page = await self._guard("fetch", entry, self.fetcher(entry), seq)
                if page is not None:
                    await self.pages.put((seq, page))
            finally:
                self.entries.task_done()

    async def _extract_worker(self) -> None:
        while True:
            seq, page = await self.pages.get()
            try:
                with structlog.contextvars.bound_contextvars(url=page.entry.url):
                    article = await self._guard("extract", page.entry, self.extractor(page), seq,
                                                _replay_time(page))  # fmt: skip
                if article is not None:
                    self.metrics.incr(f"extract.{article.extraction}")
                    self.articles.put(seq, article)
            finally:
                self.pages.task_done()

    async def _dedup_worker(self) -> None:
        while True:
            item = await self.articles.get()
            try:
                if isinstance(item, _Failed):
                    await self._fail(item)
                    continue
                with structlog.contextvars.bound_contextvars(url=item.url):
                    await self._guard("publish", item.entry, self._publish_article(item))
            finally:
                self.articles.task_done()

    async def _publish_article(self, article: Article) -> None:
        if not article.text.strip():
            at = _replay_time(article)
            await self._fail(_Failed(article.entry, "extract", article.extraction, "no text", at))
            return
        if self.forward is not None:
            await self._forward(self.forward, article)
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
        fitted = fit(event, self._article_message, self.sink.oversize)
        if fitted is None:
            await self.deduper.release(article, verdict)
            await self._release_story(story)
            detail = f"{len(article.text)} characters; the first paragraph alone is over the limit"
            at = _replay_time(article)
            await self._fail(_Failed(article.entry, "publish", "too_large", detail, at))
            return
        if fitted.truncated:
            self.metrics.incr("publish.truncated")
            log.warning("publish.truncated", chars=len(article.text))
        await self._send(fitted.message, article.entry, article, verdict, event.type, story)

    async def _forward(self, forward: ForwardStage, article: Article) -> None:
        """Cluster mode: hand the article to the internal topic; its entry is done (the source
        moves on) once the broker acknowledged that record, as for a public event."""
        try:
            delivery = await forward(article)
        except SinkError as exc:
            self.publish.attempted(ok=False, reason=exc.reason)
            await self._unpublished(exc, article.entry, None, None)
            return
        self.publish.started()
        forwarded = _InFlight(delivery, article.entry, None, None, "article.forwarded")
        await self.in_flight.put(forwarded)

    def _article_message(self, event: ArticleEvent) -> OutMessage:
        return self._message(_CHANNELS[event.type], event.cluster_id, event)

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
            self.publish.finished(ok=False, reason=exc.reason)
            await self._unpublished(
                exc, item.entry, item.article, item.verdict, item.story, acker=True
            )
            return
        self.publish.finished(ok=True)
        if item.article is not None and item.verdict is not None:
            await self._commit(item.article, item.verdict)
        await self._commit_story(item.story)
        self.metrics.incr(f"publish.ok.{item.event_type}")
        self._observe_latency(item.entry)
        self.on_outcome(item.event_type)
        await self._settle(item.entry, done=True)

    def _observe_latency(self, entry: FeedEntry) -> None:
        came_in = self._intake_at.get(id(entry))
        if came_in is not None:
            self.metrics.ack_latency.observe(time.monotonic() - came_in)

    # -- helpers ------------------------------------------------------------------------------

    async def _guard(
        self,
        stage: str,
        entry: FeedEntry,
        work: Awaitable[T],
        seq: int | None = None,
        at: datetime | None = None,
    ) -> T | None:
        """Run one stage call; a `Skip` or an error ends the record here, counted and logged.

        With `seq` (a stage before the reorder buffer) an ended record gives up its turn there,
        and a failure is published in that turn, not at once."""
        failed: _Failed | None = None
        try:
            with self.metrics.stage_seconds.labels(stage).time():
                return await work
        except Skip as skip:
            self.metrics.incr(f"{stage}.skip.{skip.reason}")
            self.on_outcome(f"skip.{skip.reason}")
            log.info("record.skipped", stage=stage, reason=skip.reason)
            await self._settle(entry, done=True)
        except SinkError as exc:
            await self._unpublished(exc, entry, None, None)
        except NewsdError as exc:
            failed = _Failed(entry, stage, exc.reason, exc.detail, at)
        except Exception as exc:  # a bug must cost one record, never the daemon
            log.exception("record.internal_error", stage=stage)
            failed = _Failed(entry, stage, "internal_error", repr(exc), at)
        if seq is not None:
            self.articles.put(seq, failed)
        elif failed is not None:
            await self._fail(failed)
        return None

    async def _fail(self, failed: _Failed) -> None:
        """An item failed for good: publish it, with its reason, to the errors topic."""
        entry, stage, reason, detail = failed.entry, failed.stage, failed.reason, failed.detail
        self.metrics.incr(f"{stage}.error.{reason}")
        log.warning("record.failed", stage=stage, reason=reason, detail=detail)
        event = error_event(entry, stage, reason, detail, now=failed.at)
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
        delivery: Awaitable[None] | None = None
        try:
            delivery = await self.sink.send(message)
            if story is not None:  # the summary goes out with the article; both must be acked
                delivery = _both(delivery, await self.sink.send(self._story_message(story)))
        except SinkError as exc:
            self.publish.attempted(ok=False, reason=exc.reason)
            if delivery is not None:
                _discard(delivery)
            await self._unpublished(exc, entry, article, verdict, story)
            return
        self.publish.started()
        await self.in_flight.put(_InFlight(delivery, entry, article, verdict, event_type, story))

    async def _unpublished(
        self,
        exc: SinkError,
        entry: FeedEntry,
        article: Article | None,
        verdict: Verdict | None,
        story: StoryVerdict | None = None,
        *,
        acker: bool = False,
    ) -> None:
        """The one path for "not published": counted, logged, the dedup decision released, the
        entry settled as not done so that its source offers it again.  An article the broker
        refused as too large would be refused again: it becomes an error event instead."""
        self.metrics.incr(f"publish.error.{exc.reason}")
        log.error("publish.failed", url=entry.url, reason=exc.reason, detail=exc.detail)
        if article is not None and verdict is not None:
            await self.deduper.release(article, verdict)
        await self._release_story(story)
        if exc.reason == "too_large" and article is not None:
            if acker:
                await self._refused_as_too_large(entry, exc.detail)
            else:
                await self._fail(_Failed(entry, "publish", "too_large", exc.detail))
            return
        await self._settle(entry, done=False)

    async def _refused_as_too_large(self, entry: FeedEntry, detail: str) -> None:
        """The broker refused an article as too large (a lower limit than it described): the
        same message would be refused again, so its error is published now, from the acker
        itself (not queued behind it), and the entry is done once that is acknowledged."""
        event = error_event(entry, "publish", "too_large", detail)
        try:
            await (await self.sink.send(self._message("errors", event.event_id, event)))
        except SinkError as exc:
            log.error("publish.failed", url=entry.url, reason=exc.reason, detail=exc.detail)
            await self._settle(entry, done=False)
            return
        self.metrics.incr(f"publish.ok.{event.type}")
        self.on_outcome(event.type)
        await self._settle(entry, done=True)

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
        self._intake_at.pop(id(entry), None)
        if not done:
            self.on_outcome("skip.not_published")
        if entry.settle is None:
            return
        try:
            await entry.settle(entry, done)
        except Exception as exc:
            self.metrics.incr("settle.error")
            log.error("settle.failed", url=entry.url, error=repr(exc))


def _discard(delivery: Awaitable[None]) -> None:
    """Drop a delivery nobody will await: close a coroutine (no "never awaited" warning at
    exit) and silence a future's exception (its entry is settled as not done anyway)."""
    if inspect.iscoroutine(delivery):
        delivery.close()
    elif isinstance(delivery, asyncio.Future):
        delivery.add_done_callback(lambda done: done.cancelled() or done.exception())


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _replay_time(record: FetchedPage | Article) -> datetime | None:
    """A replayed record's archive time (error events of a replay are reproducible), else None."""
    return record.fetched_at if record.entry.origin.kind == "replay" else None


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
