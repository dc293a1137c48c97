"""Feed cursors that survive a move: the cursors changelog topic, with local SQLite as a cache.

Written where the SQLite cursor is written (`Poller.flush` → `FeedStateRepo.save`), so a cursor
is published only after the events it covers were acknowledged (the poller's at-least-once rule,
`daemon.sources.cursor`).  Only feeds this instance owns are published: a late settlement of a
feed that already moved must not overwrite its new owner's cursor.  A cursor whose only change is
its schedule (a poll that found nothing new) is not published again.  A failed publish is logged
and retried at the next flush; it never stops the poller.

The new owner of a feed restores the feed's cursor (state and seen item keys) from the topic
into its local store before the feed's first poll (`restore`), so a move causes neither a burst
of re-fetched pages nor lost items.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from daemon.cluster import codec
from daemon.cluster.topics import cursors_topic, read_partitions
from daemon.errors import SinkError
from daemon.settings import ClusterSettings, KafkaSettings
from daemon.sinks.kafka import client_options, translate
from daemon.sources.feedstate import FeedState, FeedStateRepo
from daemon.state.sqlite import Store

log = structlog.get_logger(__name__)


class CursorLog:
    """The cursors topic: publish one feed's cursor, read back the cursors of some partitions."""

    def __init__(self, kafka: KafkaSettings, cluster: ClusterSettings, bootstrap: str) -> None:
        self.kafka, self.bootstrap = kafka, bootstrap
        self.topic = cursors_topic(cluster)
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            **client_options(self.kafka, self.bootstrap),
            acks="all",
            enable_idempotence=self.kafka.enable_idempotence,
            linger_ms=0,
        )
        try:
            await self._producer.start()
        except KafkaError as exc:
            raise translate(exc) from exc

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def publish(self, feed_id: str, value: bytes) -> None:
        """Send one cursor and wait for the acknowledgement (one record per batch: see
        `read_partitions`)."""
        if self._producer is None:
            raise SinkError("not_started", "the cursor log is not started")
        try:
            await self._producer.send_and_wait(self.topic, value, key=codec.key(feed_id))
        except KafkaError as exc:
            raise translate(exc) from exc

    async def read(self, partitions: Iterable[int]) -> dict[str, codec.CursorRecord]:
        """The latest cursor of every feed in `partitions` (bad values counted and skipped)."""
        records, _ = await read_partitions(self.kafka, self.bootstrap, self.topic, partitions)
        latest: dict[str, codec.CursorRecord] = {}
        for record in records:
            if record.key is None or record.value is None:
                continue
            try:
                latest[record.key.decode("utf-8", "replace")] = codec.decode_cursor(record.value)
            except ValueError as exc:
                log.warning("cluster.cursor_skipped", offset=record.offset, error=str(exc))
        return latest


class ClusterStateRepo(FeedStateRepo):
    """`FeedStateRepo` whose `save` also publishes the cursors of the feeds this instance owns."""

    def __init__(
        self,
        store: Store,
        cursors: CursorLog,
        owned: Callable[[], frozenset[str]],
        *,
        seen_window: float = 30 * 86400.0,
        seen_max: int = 5000,
    ) -> None:
        super().__init__(store, seen_window=seen_window, seen_max=seen_max)
        self.cursors = cursors
        self.owned = owned
        self._unpublished: dict[str, FeedState] = {}  # failed publishes, retried next save
        self._published: dict[str, int] = {}  # feed id → `_essence` of its last published cursor

    async def save(self, states: Iterable[FeedState]) -> None:
        batch = list(states)
        await super().save(batch)
        owned = self.owned()
        pending = self._unpublished | {s.feed_id: s for s in batch}
        self._unpublished = {}
        for feed_id, state in pending.items():
            if feed_id in owned:
                await self._publish(state)

    async def _publish(self, state: FeedState) -> None:
        seen = await self.seen(state.feed_id)
        essence = _essence(state, seen)
        if self._published.get(state.feed_id) == essence:
            return  # only times moved (a 304, an unchanged body): not worth a message
        try:
            await self.cursors.publish(state.feed_id, codec.encode_cursor(state, seen))
        except SinkError as exc:
            self._unpublished[state.feed_id] = state
            log.warning("cluster.cursor_publish_failed", feed_id=state.feed_id, reason=exc.reason)
            return
        self._published[state.feed_id] = essence

    async def restore(self, found: dict[str, codec.CursorRecord], *, now: float) -> None:
        """Store restored cursors locally (the topic wins over the local cache)."""
        await super().save(record.state for record in found.values())
        await self.record_seen({feed_id: record.seen for feed_id, record in found.items()}, now=now)
        for feed_id in found:
            self._published.pop(feed_id, None)  # another owner published since: compare anew


# Fields that move with every poll.  A cursor differing only in these is not published again:
# the new owner of a moved feed then polls it a little early, which costs one conditional GET.
_VOLATILE = frozenset({"next_poll_at", "last_success_at", "polls_since_full", "entry_rate"})


def _essence(state: FeedState, seen: dict[str, str | None]) -> int:
    kept = tuple(v for k, v in dataclasses.asdict(state).items() if k not in _VOLATILE)
    return hash((kept, frozenset(seen.items())))
