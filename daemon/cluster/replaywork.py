"""Distributed replay: the files of one `newsd replay` run as work items on `<prefix>.replay`.

    newsd replay a.warc b.warc c.warc   (cluster mode)
        └─ submit(): one item per file {run_id, file_index, path, read_at, since, until},
           spread over the topic's partitions
    every instance: ReplayWorker, a member of `<group>.replay`
        └─ for each file assigned to it: replay it through its own fetch-less pipeline, whose
           forward stage puts each article on `<prefix>.articles` with its position
           (run, file, record); drain; then an end-of-file marker; then commit the item

The dedup owner decides a run's articles in file order (`replayorder.py`), so the events equal
those of a single-process replay of the same files in the same order (same event ids, same
verdicts).  Two limits, both documented in docs/scaling.md: every instance must read the paths
(a shared volume), and a feed capture in one file is joined only to pages of the same file.

An instance killed mid-file never committed that item: the group gives it to another member,
which replays the whole file again; the articles it forwards again are redelivered copies, which
the owner recognises (`Skip("unchanged")`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from daemon.cluster.articlecodec import ArticleCodecError, FileDone, Position, encode_done
from daemon.cluster.articles import (
    ArticleForwarder,
    ensure_internal_topics,
    options,
    producer,
    replay_topic,
)
from daemon.cluster.topics import group_consumer
from daemon.errors import NewsdError
from daemon.observability.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.replay.source import ReplaySource
from daemon.settings import Settings
from daemon.sinks.kafka import translate

log = structlog.get_logger(__name__)

VERSION = 1


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One file of a distributed replay run."""

    run_id: str
    file_index: int
    files: int
    path: str
    read_at: datetime  # fetched_at of captures without a time: the same on every instance
    since: datetime | None = None
    until: datetime | None = None


def encode_item(item: WorkItem) -> bytes:
    return orjson.dumps({"v": VERSION, **asdict(item)})


def decode_item(raw: bytes) -> WorkItem:
    """A work item back; `ArticleCodecError` for an unknown version or a broken record."""
    try:
        body: dict[str, Any] = orjson.loads(raw)
        if body.pop("v", None) != VERSION:
            raise ArticleCodecError("unknown_version", "replay work item version")
        for name in ("read_at", "since", "until"):
            if body.get(name) is not None:
                body[name] = datetime.fromisoformat(body[name])
        return WorkItem(**body)
    except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError) as exc:
        raise ArticleCodecError("unreadable", f"{type(exc).__name__}: {exc}") from exc


async def submit(settings: Settings, items: list[WorkItem]) -> None:
    """Put the run's files on the replay topic, file i on partition i mod partitions (so that
    files spread evenly over the members); returns once the broker acknowledged every item."""
    await ensure_internal_topics(settings)
    topic, partitions = replay_topic(settings), settings.cluster.replay_partitions
    sender = producer(settings)
    try:
        await sender.start()
        futures = [
            await sender.send(
                topic,
                encode_item(item),
                key=f"{item.run_id}:{item.file_index}".encode(),
                partition=item.file_index % partitions,
            )
            for item in items
        ]
        await asyncio.gather(*futures)
    except KafkaError as exc:
        raise translate(exc) from exc
    finally:
        await sender.stop()
    log.info("replay.submitted", run_id=items[0].run_id if items else None, files=len(items))


class ReplayWorker:
    """A member of `<group>.replay`: replays the files assigned to it (see module)."""

    def __init__(
        self, settings: Settings, pipeline: Pipeline, forwarder: ArticleForwarder, metrics: Metrics
    ) -> None:
        self.settings, self.pipeline, self.forwarder = settings, pipeline, forwarder
        self.metrics = metrics
        self.files_done = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Take files until `stop` is set.  A file being replayed when it is set is abandoned
        uncommitted (the instance is stopping its pipeline): the group gives it to another
        member, which replays it whole."""
        await ensure_internal_topics(self.settings)
        consumer = group_consumer(
            options(self.settings), self.settings.cluster, "replay",
            max_poll_interval_ms=3_600_000,  # one file may take long; the item is one record
        )  # fmt: skip
        try:
            await consumer.start()
            consumer.subscribe([replay_topic(self.settings)])
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=1)
                for part, records in batch.items():
                    for record in records:
                        if not await _unless(stop, self._take(record)):
                            return  # cut short: not committed, another member redoes the file
                        await consumer.commit({part: OffsetAndMetadata(record.offset + 1, "")})
        except KafkaError as exc:
            raise translate(exc) from exc
        finally:
            await consumer.stop()

    async def _take(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            item = decode_item(record.value or b"")
        except ArticleCodecError as exc:
            self.metrics.incr(f"replay.work.skip.{exc.reason}")
            log.warning("replay.work_unreadable", offset=record.offset, reason=exc.reason)
            return
        try:
            await self.replay(item)
        except NewsdError as exc:  # e.g. the file is not readable here: counted, logged
            self.metrics.incr(f"replay.work.error.{exc.reason}")
            log.error("replay.file_failed", path=item.path, reason=exc.reason, detail=exc.detail)
            await self._file_done(item, 0)

    async def replay(self, item: WorkItem) -> None:
        """Replay one file through the pipeline, drain, then mark its end on the articles topic."""
        log.info("replay.file_started", run_id=item.run_id, file_index=item.file_index,
                 path=item.path)  # fmt: skip
        source = ReplaySource([Path(item.path)], since=item.since, until=item.until,
                              run_id=item.run_id, read_at=item.read_at)  # fmt: skip
        count = 0
        async for replayed in source.aiter():
            position = Position(item.run_id, item.file_index, count)
            self.forwarder.place(replayed.page.entry, position)
            await self.pipeline.feed_page(replayed.page)
            count += 1
        await self.pipeline.drain()
        await self._file_done(item, count)

    async def _file_done(self, item: WorkItem, pages: int) -> None:
        self.forwarder.positions.clear()
        marker = encode_done(FileDone(item.run_id, item.file_index, pages))
        await (await self.forwarder.send(item.run_id.encode(), marker))
        self.files_done += 1
        self.metrics.incr("replay.files")
        log.info("replay.file_done", run_id=item.run_id, file_index=item.file_index, pages=pages)


async def _unless(stop: asyncio.Event, work: Coroutine[Any, Any, None]) -> bool:
    """Run `work` unless `stop` is set first (then cancel it); True when it finished."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False
    task.result()
    return True
