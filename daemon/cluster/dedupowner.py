"""The dedup owner: one instance at a time decides every article of the cluster.

    <prefix>.articles ──(group <group>.dedup, 1 partition)──► DedupOwner
         ▲                                                      │ Pipeline.feed_article
         │ instances forward                                    ▼
         │ extracted articles          Deduper → stories → public topics (acks=all)
                                                                │ after the ack
                                 <prefix>.dedup changelog ◄─────┘ then the offset is committed

Every instance runs one; the group assigns the single partition to exactly one member, the
others are hot standbys.  A *term* starts when this instance is assigned the partition: a fresh
Deduper (and story stage) in a temporary SQLite file is rebuilt from the changelog
(`changelog.py`) before the first article is taken.  A term ends when the partition is revoked
(drain, commit) or when a record could not be published (`_rewind`: commit what is done, seek
back to the first record not done, start a new term).

A revocation ends the owner's *tenure* at once, before the term is drained: the records of the
batch in hand that were not taken yet are left to the group's next owner (it consumes from the
committed offset), and a term that began while the revocation ran ends without deciding
anything.  aiokafka runs the revocation callback while a batch is being handled and lists the
partition as assigned until the re-join completes, so the tenure is what tells a record this
instance may still decide from one that belongs to the next owner: never two owners at once.

Per record, in this order: the public event is acknowledged → the Deduper commits it → its
changelog record is acknowledged → the record is settled done (`ledger.py`) → the consumer
offset passes it.  A crash anywhere in that sequence redelivers the record to the next owner,
whose index holds every document whose changelog record was acknowledged: an article already
published is then `Skip("unchanged")` (its event is on the topic once, under its id); one whose
changelog record was lost is decided again in the same state, so it yields the same event with
the same event id.  Never a "duplicate of itself".

Replayed articles are decided in the order of their run's files (`replayorder.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from daemon.cluster import changelog
from daemon.cluster.articlecodec import ArticleCodecError, Carried, FileDone, decode
from daemon.cluster.articles import (
    articles_topic,
    dedup_topic,
    ensure_internal_topics,
    options,
    producer,
)
from daemon.cluster.ledger import OffsetLedger
from daemon.cluster.replayorder import ReplayOrder
from daemon.cluster.topics import group_consumer
from daemon.dedup.deduper import Deduper
from daemon.errors import NewsdError, SinkError, Skip
from daemon.observability.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.records import Article, FeedEntry, FetchedPage, Verdict
from daemon.settings import Settings
from daemon.sinks.base import Sink
from daemon.sinks.kafka import translate
from daemon.state.sqlite import Store
from daemon.stories.storyteller import Storyteller

log = structlog.get_logger(__name__)

_REWIND_PAUSE = 1.0  # seconds before a rewound term starts again (the broker may be recovering)
_Item = tuple[int, Carried, bytes]  # (offset, decoded article, the record as received)


class Clock:
    """`time.time`, or the time a changelog record was decided at while rebuilding."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self.fixed: float | None = None

    def __call__(self) -> float:
        return self.now() if self.fixed is None else self.fixed


class RecordingDeduper:
    """The Deduper as the owner's pipeline sees it: the same decisions, plus what the changelog
    needs once an event is acknowledged (`committed`, by id of the article's entry)."""

    def __init__(self, inner: Deduper, clock: Clock) -> None:
        self.inner, self.clock = inner, clock
        self.decided_at: dict[str, float] = {}
        self.committed: dict[int, tuple[Article, Verdict, float]] = {}

    async def decide(self, article: Article) -> Verdict:
        verdict = await self.inner.decide(article)
        self.decided_at[verdict.event_id or ""] = self.clock()
        return verdict

    async def commit(self, article: Article, verdict: Verdict) -> None:
        await self.inner.commit(article, verdict)
        at = self.decided_at.pop(verdict.event_id or "", self.clock())
        self.committed[id(article.entry)] = (article, verdict, at)

    async def release(self, article: Article, verdict: Verdict) -> None:
        await self.inner.release(article, verdict)
        self.decided_at.pop(verdict.event_id or "", None)


async def _no_fetch(entry: FeedEntry) -> FetchedPage:
    """The owner's pipeline takes articles only: its fetch and extract stages never run."""
    raise NewsdError("internal_error", "the dedup owner takes extracted articles only")


async def _no_extract(page: FetchedPage) -> Article:
    raise NewsdError("internal_error", "the dedup owner takes extracted articles only")


@dataclasses.dataclass
class _Term:
    """One stretch of ownership: its own index, pipeline and ledger."""

    workdir: tempfile.TemporaryDirectory[str]
    store: Store
    deduper: RecordingDeduper
    storyteller: Storyteller | None
    pipeline: Pipeline
    tasks: asyncio.TaskGroup | None = None
    ledger: OffsetLedger = dataclasses.field(default_factory=OffsetLedger)
    order: ReplayOrder[_Item] = dataclasses.field(default_factory=ReplayOrder)
    markers: dict[str, list[tuple[int, int]]] = dataclasses.field(default_factory=dict)
    writes: set[asyncio.Future[None]] = dataclasses.field(default_factory=set)  # changelog acks


class DedupOwner:
    """Consumes `<prefix>.articles` as a member of `<group>.dedup` (see module)."""

    def __init__(
        self,
        settings: Settings,
        sink: Sink,
        metrics: Metrics,
        *,
        extra_headers: dict[str, str] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.sink, self.metrics = settings, sink, metrics
        self.extra_headers = extra_headers
        self.clock = Clock(now)
        self.partition = TopicPartition(articles_topic(settings), 0)
        self.term: _Term | None = None
        self.tenure: int | None = None  # the assignment this instance holds the partition by
        self._assignments = 0
        self._ending = asyncio.Lock()  # a second `_end_term` waits until the first is done
        self.terms = 0  # terms begun (tests and logs: how often ownership moved here)
        self.last_rebuild_seconds = 0.0
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Take part in the group until `stop` is set; then end the term cleanly."""
        await ensure_internal_topics(self.settings)
        self._producer = producer(self.settings)
        consumer = group_consumer(options(self.settings), self.settings.cluster, "dedup")
        self._consumer = consumer
        try:
            await self._producer.start()
            await consumer.start()
            consumer.subscribe([self.partition.topic], listener=_Listener(self))
            while not stop.is_set():
                await self._step(consumer)
        except KafkaError as exc:
            raise translate(exc) from exc
        finally:
            await self._end_term()
            await consumer.stop()
            await self._producer.stop()

    async def _step(self, consumer: AIOKafkaConsumer) -> None:
        batch = await consumer.getmany(timeout_ms=200, max_records=500)
        tenure = self.tenure  # the batch was fetched under this assignment
        for record in batch.get(self.partition, []):
            if not self._holds(tenure):
                return  # revoked while this batch was handled: the next owner takes the rest
            await self._take(record, tenure)
            if self.term is not None and self.term.ledger.failed is not None:
                await self._rewind(consumer, self.term, tenure)
                return
        if self.term is not None and self._holds(tenure):
            await self._commit(self.term)

    def _holds(self, tenure: int | None) -> bool:
        """True while the partition is still held by the assignment `tenure` (not revoked)."""
        return tenure is not None and tenure == self.tenure

    async def _take(self, record: ConsumerRecord[bytes, bytes], tenure: int | None) -> None:
        term = self.term or await self._begin_term()
        if not self._holds(tenure):  # revoked while the term began: it decides nothing
            await self._end_term()
            return
        term.ledger.taken(record.offset)
        try:
            decoded = decode(record.value or b"")
        except ArticleCodecError as exc:
            self.metrics.incr(f"owner.skip.{exc.reason}")
            log.warning("owner.unreadable", offset=record.offset, reason=exc.reason)
            term.ledger.settled(record.offset, True)
            return
        if isinstance(decoded, FileDone):
            await self._file_done(term, record.offset, decoded)
            return
        for part in decoded.dropped:  # computed again by the Deduper / story stage
            self.metrics.incr(f"owner.carried_unusable.{part}")
        taken = (record.offset, decoded, record.value or b"")
        for item in term.order.article(decoded.position, taken):
            await self._feed(term, item)

    async def _feed(self, term: _Term, item: _Item) -> None:
        offset, carried, raw = item
        ledger, deduper = term.ledger, term.deduper

        async def settle(entry: FeedEntry, done: bool) -> None:
            published = deduper.committed.pop(id(entry), None)
            if done and published is not None:
                await self._log_doc(term, offset, raw, *published)
            else:
                ledger.settled(offset, done)

        article = carried.article
        entry = dataclasses.replace(article.entry, settle=settle)
        await term.pipeline.feed_article(dataclasses.replace(article, entry=entry))

    async def _file_done(self, term: _Term, offset: int, done: FileDone) -> None:
        """A replay file ended: when that completes a prefix of the run's files, everything
        decided so far is drained, the run's progress written, the files now in turn fed."""
        before = term.order.next_file(done.run_id)
        ready = term.order.file_done(done.run_id, done.file_index)
        term.markers.setdefault(done.run_id, []).append((done.file_index, offset))
        after = term.order.next_file(done.run_id)
        if after > before:
            await term.pipeline.drain()
            await asyncio.gather(*term.writes)
            progress = changelog.RunProgress(done.run_id, after)
            ok = await self._write(*changelog.progress_record(progress))
            self._settle_markers(term, done.run_id, after, ok)
        for item in ready:
            await self._feed(term, item)

    def _settle_markers(self, term: _Term, run_id: str, next_file: int, ok: bool) -> None:
        markers = term.markers[run_id]
        for index, offset in [m for m in markers if m[0] < next_file]:
            term.ledger.settled(offset, ok)
            markers.remove((index, offset))

    async def _commit(self, term: _Term) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        position = term.ledger.position()
        if position is None or position <= term.ledger.committed:
            return
        await consumer.commit({self.partition: OffsetAndMetadata(position, "")})
        term.ledger.committed = position

    async def _rewind(self, consumer: AIOKafkaConsumer, term: _Term, tenure: int | None) -> None:
        """A record was not published: commit what is done, seek back to the first record not
        done, and start a new term from the changelog (its index is exactly what is on it).
        Revoked meanwhile, it does not seek: the next assignment starts at the committed offset."""
        position = term.ledger.position()
        self.metrics.incr("owner.rewind")
        log.warning("owner.rewind", offset=position)
        await self._end_term()
        if position is not None and self._holds(tenure):
            consumer.seek(self.partition, position)
        await asyncio.sleep(_REWIND_PAUSE)

    # -- the group's callbacks ----------------------------------------------------------------

    async def revoked(self, partitions: Collection[TopicPartition]) -> None:
        """A rebalance began: the tenure ends at once (no further record of the batch in hand
        is taken), then the term ends (drained, committed) before the callback returns."""
        if self.partition in partitions:
            self.tenure = None
            await self._end_term()

    def assigned(self, partitions: Collection[TopicPartition]) -> None:
        """A new assignment: a new tenure if it holds the partition.  The term begins lazily,
        with the first record fetched under it (after the rebuild)."""
        self._assignments += 1
        self.tenure = self._assignments if self.partition in partitions else None

    # -- terms --------------------------------------------------------------------------------

    async def _begin_term(self) -> _Term:
        workdir = tempfile.TemporaryDirectory(prefix="newsd-dedup-owner-")
        store = Store.in_dir(Path(workdir.name))
        await store.open()
        settings = self.settings
        inner = Deduper(settings.dedup, store, clock=self.clock,
                        shingle_cache_bytes=settings.dedup.shingle_cache_bytes)  # fmt: skip
        await inner.start()
        storyteller = Storyteller(settings.stories, store) if settings.stories.enabled else None
        if storyteller is not None:
            await storyteller.start()
        deduper = RecordingDeduper(inner, self.clock)
        pipeline = self._pipeline(deduper, storyteller)
        term = _Term(workdir, store, deduper, storyteller, pipeline)
        await self._rebuild(term)
        pipeline.start()
        self.term = term
        self.terms += 1
        return term

    def _pipeline(self, deduper: RecordingDeduper, storyteller: Storyteller | None) -> Pipeline:
        return Pipeline(
            self.settings.pipeline.model_copy(update={"fetch_workers": 1}),
            fetcher=_no_fetch,
            extractor=_no_extract,
            deduper=deduper,
            sink=self.sink,
            metrics=self.metrics,
            extract_workers=1,
            max_in_flight=self.settings.kafka.max_in_flight,
            extra_headers=self.extra_headers,
            storyteller=storyteller,
        )

    async def _end_term(self) -> None:
        """Drain (within `pipeline.shutdown_grace`), stop, commit what is done, drop the index.
        A caller that comes while another ends the term returns once that one is done."""
        async with self._ending:
            term, self.term = self.term, None
            if term is not None:
                await self._close(term)

    async def _close(self, term: _Term) -> None:
        await term.pipeline.drain(timeout=self.settings.pipeline.shutdown_grace)
        await term.pipeline.stop()
        await asyncio.gather(*term.writes)
        with contextlib.suppress(KafkaError):
            await self._commit(term)
        await term.deduper.inner.close()
        if term.storyteller is not None:
            await term.storyteller.close()
        await term.store.close()
        term.workdir.cleanup()
        log.info("owner.term_ended", outstanding=term.ledger.outstanding)

    # -- the changelog ------------------------------------------------------------------------

    async def _log_doc(
        self,
        term: _Term,
        offset: int,
        raw: bytes,
        article: Article,
        verdict: Verdict,
        decided_at: float,
    ) -> None:
        """Hand the document's changelog record to the producer (in acknowledgement order);
        the record is settled once the broker acknowledged it, without holding up the next.
        It embeds the article record as received (`raw`): not encoded a second time."""
        event_id = verdict.event_id or ""
        key, value = changelog.doc_record(article, verdict.kind, event_id, decided_at, raw)
        try:
            delivery = await self._enqueue(key, value)
        except SinkError as exc:
            self._changelog_failed(exc)
            term.ledger.settled(offset, False)
            return
        written = asyncio.ensure_future(self._settle_written(term.ledger, offset, delivery))
        term.writes.add(written)
        written.add_done_callback(term.writes.discard)

    async def _settle_written(
        self, ledger: OffsetLedger, offset: int, delivery: asyncio.Future[Any]
    ) -> None:
        try:
            await delivery
        except KafkaError as exc:
            self._changelog_failed(translate(exc))
            ledger.settled(offset, False)
            return
        ledger.settled(offset, True)

    def _changelog_failed(self, exc: SinkError) -> None:
        self.metrics.incr(f"owner.changelog_error.{exc.reason}")
        log.error("owner.changelog_failed", reason=exc.reason, detail=exc.detail)

    async def _write(self, key: bytes, value: bytes | None) -> bool:
        """Append to the changelog and wait for the acknowledgement; False (counted) if refused."""
        try:
            await self._send(key, value)
        except SinkError as exc:
            self._changelog_failed(exc)
            return False
        return True

    async def _send(self, key: bytes, value: bytes | None) -> None:
        """Append to the changelog and wait for the acknowledgement."""
        delivery = await self._enqueue(key, value)
        try:
            await delivery
        except KafkaError as exc:
            raise translate(exc) from exc

    async def _enqueue(self, key: bytes, value: bytes | None) -> asyncio.Future[Any]:
        if self._producer is None:
            raise SinkError("not_started", "the dedup owner's producer is not running")
        try:
            delivery: asyncio.Future[Any] = await self._producer.send(
                dedup_topic(self.settings), value, key=key
            )
        except KafkaError as exc:
            raise translate(exc) from exc
        return delivery

    async def _rebuild(self, term: _Term) -> None:
        """Re-decide every article on the changelog, in order, with the clock it was decided
        at; restore replay runs' progress.  Reads up to a barrier of its own (see changelog)."""
        started = time.monotonic()
        barrier_key, barrier = changelog.barrier_record()
        await self._send(barrier_key, barrier)
        reader = AIOKafkaConsumer(**options(self.settings), group_id=None, enable_auto_commit=False)
        part = TopicPartition(dedup_topic(self.settings), 0)
        counts = {"docs": 0, "diverged": 0}
        try:
            await reader.start()
            reader.assign([part])
            await reader.seek_to_beginning(part)
            await self._read_until(reader, part, barrier_key, term, counts)
        finally:
            await reader.stop()
            self.clock.fixed = None
        await self._send(barrier_key, None)  # tombstone: compaction removes the barrier
        self.metrics.incr("owner.rebuilt_docs", counts["docs"])
        self.last_rebuild_seconds = time.monotonic() - started
        log.info("owner.rebuilt", seconds=round(self.last_rebuild_seconds, 3), **counts)

    async def _read_until(
        self,
        reader: AIOKafkaConsumer,
        part: TopicPartition,
        barrier_key: bytes,
        term: _Term,
        counts: dict[str, int],
    ) -> None:
        while True:
            batch = await reader.getmany(part, timeout_ms=500, max_records=1000)
            for record in batch.get(part, []):
                if record.key == barrier_key:
                    return
                await self._replay_record(record, term, counts)

    async def _replay_record(
        self, record: ConsumerRecord[bytes, bytes], term: _Term, counts: dict[str, int]
    ) -> None:
        try:
            entry = changelog.read(record.key, record.value)
        except ArticleCodecError as exc:
            self.metrics.incr(f"owner.rebuild_skip.{exc.reason}")
            return
        if isinstance(entry, changelog.RunProgress):
            term.order.restore(entry.run_id, entry.next_file)
        elif isinstance(entry, changelog.DocEntry):
            self.clock.fixed = entry.decided_at
            verdict = await _redecide(term, entry.article)
            counts["docs"] += verdict is not None
            counts["diverged"] += verdict is not None and verdict.kind != entry.verdict


async def _redecide(term: _Term, article: Article) -> Verdict | None:
    """Decide and commit one changelog article again (its story too); None when skipped."""
    try:
        verdict = await term.deduper.inner.decide(article)
    except Skip:
        return None  # the same article twice on the changelog (a redelivery written twice)
    await term.deduper.inner.commit(article, verdict)
    if term.storyteller is not None:
        story = await term.storyteller.decide(article, verdict, verdict.event_id or "")
        await term.storyteller.commit(story)
    return verdict


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Ends the term before the partition goes to another member (drained, committed)."""

    def __init__(self, owner: DedupOwner) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.owner.revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.owner.assigned(assigned)
