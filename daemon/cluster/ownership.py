"""Feed ownership through a Kafka consumer group: each instance polls the feeds of its partitions.

Every instance runs one consumer in group `<cluster.group>.feeds`, subscribed to the feeds topic.
The group coordinator splits the partitions between the live members; this module keeps the
latest record of each feed of the assigned partitions (`FeedTable`) and hands that feed set to
the poller.  A rebalance, in aiokafka's eager protocol:

    revoked    the feeds of the revoked partitions stop being polled, their polls and entries in
               flight get up to half the session timeout to finish, their cursors are published, and
               only then does the callback return (so the revocation completes after the last
               poll: two live instances never poll one feed for longer than one rebalance)
    assigned   each new partition is read from the beginning to its end (the feed table), the
               cursors of its feeds are restored from the cursors topic into the local store,
               the group consumer goes on from the end, and the poller gets the new feed set
    records    later changes (`newsd feeds add/remove/pause/resume`) reach the owner as records
               and change its feed set at once

A member that dies (SIGKILL) stops heartbeating; after `cluster.session_timeout_ms` the
coordinator gives its partitions to the others, whose `assigned` restores the cursors.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from daemon.cluster import codec
from daemon.cluster.cursors import ClusterStateRepo, CursorLog
from daemon.cluster.table import FeedTable, moves
from daemon.cluster.topics import feeds_topic, group_consumer, read_partitions
from daemon.errors import NewsdError
from daemon.settings import ClusterSettings, KafkaSettings
from daemon.sinks.kafka import client_options, translate
from daemon.sources.feedcontrol import FeedSet

log = structlog.get_logger(__name__)


class Polls(Protocol):
    """What ownership needs from the poller (`daemon.sources.poller.Poller`)."""

    states: dict[str, Any]

    async def apply(self, feeds: FeedSet) -> None: ...

    async def flush(self) -> None: ...

    async def release(self, feed_ids: Any, *, timeout: float) -> frozenset[str]: ...


class FeedOwnership:
    """The group member: `start()`, then `run(poller, stop)` until stopped, then `close()`."""

    def __init__(
        self,
        kafka: KafkaSettings,
        cluster: ClusterSettings,
        bootstrap: str,
        cursors: CursorLog,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.kafka, self.cluster, self.bootstrap = kafka, cluster, bootstrap
        self.topic = feeds_topic(cluster)
        self.cursors = cursors
        self.now = now
        self.table = FeedTable()
        self.repo: ClusterStateRepo | None = None
        self.poller: Polls | None = None
        self.bad_records = 0
        self._pending: set[int] = set()  # assigned partitions not loaded yet (a failed read)
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def assigned(self) -> int:
        """How many partitions of the feeds topic this instance owns now."""
        return len(self.table.partitions)

    def owned(self) -> frozenset[str]:
        """The feed ids this instance owns now."""
        return self.table.feed_ids()

    def readiness(self) -> str:
        return f"cluster: assigned {self.assigned} partitions"

    async def start(self, poller: Polls, repo: ClusterStateRepo) -> None:
        """Join the group (assignments arrive while `run` reads)."""
        self.poller, self.repo = poller, repo
        self._consumer = group_consumer(
            client_options(self.kafka, self.bootstrap), self.cluster, "feeds"
        )
        try:
            await self._consumer.start()
        except KafkaError as exc:
            raise translate(exc) from exc
        self._consumer.subscribe([self.topic], listener=_Listener(self))
        log.info("cluster.joining", group=f"{self.cluster.group}.feeds", topic=self.topic)

    async def run(self, stop: asyncio.Event) -> None:
        """Read feed changes of the owned partitions until `stop` is set."""
        consumer = self._require()
        while not stop.is_set():
            if self._pending:
                async with self._lock:
                    await self._load(frozenset(self._pending))
            try:
                batch = await consumer.getmany(timeout_ms=500)
            except KafkaError as exc:
                log.warning("cluster.read_failed", reason=translate(exc).reason)
                await asyncio.sleep(0.5)
                continue
            if batch:
                async with self._lock:
                    await self._changes([r for part in batch.values() for r in part])

    async def close(self) -> None:
        """Leave the group (the others take the partitions at their next rebalance)."""
        if self._consumer is not None:
            with contextlib.suppress(KafkaError):
                await self._consumer.stop()

    # ------------------------------------------------------------ rebalance

    async def revoked(self, partitions: frozenset[int]) -> None:
        """Stop polling the feeds of `partitions` and publish their cursors, then forget them."""
        log.info("cluster.revoking", partitions=sorted(partitions))  # a rebalance began
        async with self._lock:
            lost = self.table.feeds_in(partitions)
            busy = await self._require_poller().release(lost, timeout=self._grace())
            self.table.drop(partitions)
            self._pending -= partitions
            log.info(
                "cluster.revoked", partitions=sorted(partitions), feeds=len(lost), busy=len(busy)
            )

    async def assigned_to(self, partitions: frozenset[int]) -> None:
        """Load the new partitions' feeds and cursors, then hand the poller its new feed set."""
        log.info("cluster.assigning", partitions=sorted(partitions))  # joined and synced
        async with self._lock:
            self._pending |= partitions
            await self._load(frozenset(self._pending))

    async def _load(self, partitions: frozenset[int]) -> None:
        if not partitions:
            return
        started = time.monotonic()
        try:
            read = self.cursors.read(partitions)  # both tables at once: they do not depend
            ends, found = await asyncio.gather(self._read_feeds(partitions), read)
            restored = await self._restore(partitions, found)
        except NewsdError as exc:
            log.warning("cluster.assign_failed", partitions=sorted(partitions), reason=exc.reason)
            await asyncio.sleep(0.5)
            return
        consumer = self._require()
        for partition, end in ends.items():
            with contextlib.suppress(KafkaError, AssertionError):  # revoked meanwhile
                consumer.seek(TopicPartition(self.topic, partition), end)
        self._pending -= partitions
        await self._hand_over()
        log.info(
            "cluster.assigned",
            partitions=sorted(self.table.partitions),
            assigned=self.assigned,
            feeds=len(self.owned()),
            restored=restored,
            load_s=round(time.monotonic() - started, 3),
        )

    async def _read_feeds(self, partitions: frozenset[int]) -> dict[int, int]:
        records, ends = await read_partitions(self.kafka, self.bootstrap, self.topic, partitions)
        self.table.hold(partitions)
        for record in records:
            self._update(record)
        return ends

    async def _restore(self, partitions: frozenset[int], read: dict[str, Any]) -> int:
        """Restore the cursors `read` of the feeds gained (not polled here now)."""
        poller, repo = self._require_poller(), self._require_repo()
        owned = self.table.feeds_in(partitions)
        gained = moves(poller.states.keys(), owned).gained
        found = {f: c for f, c in read.items() if f in gained}
        await repo.restore(found, now=self.now())
        return len(found)

    async def _changes(self, records: list[Any]) -> None:
        changed = [self._update(record) for record in records]
        if any(changed):
            await self._hand_over()

    def _update(self, record: Any) -> bool:
        if record.key is None:
            return False
        feed_id = record.key.decode("utf-8", "replace")
        try:
            value = codec.decode_feed(record.value)
        except ValueError as exc:
            self.bad_records += 1
            log.warning("cluster.feed_skipped", feed_id=feed_id, error=str(exc))
            return False
        return self.table.update(record.partition, feed_id, value)

    async def _hand_over(self) -> None:
        poller = self._require_poller()
        await poller.apply(self.table.feed_set())
        await poller.flush()
        self.table.unretired()

    def _grace(self) -> float:
        # The revocation must end within the rebalance timeout (aiokafka: the session timeout),
        # cursor publishing included: half of it for the feeds' polls and entries in flight.
        return self.cluster.session_timeout_ms / 2000

    def _require(self) -> AIOKafkaConsumer:
        assert self._consumer is not None, "start() first"
        return self._consumer

    def _require_poller(self) -> Polls:
        assert self.poller is not None, "start() first"
        return self.poller

    def _require_repo(self) -> ClusterStateRepo:
        assert self.repo is not None, "start() first"
        return self.repo


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka's rebalance callbacks, awaited by its coordinator before the rebalance goes on."""

    def __init__(self, ownership: FeedOwnership) -> None:
        self.ownership = ownership

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.ownership.revoked(frozenset(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.ownership.assigned_to(frozenset(tp.partition for tp in assigned))
