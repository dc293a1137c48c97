"""The cluster's own topics: names, creation, and reading a partition as a table.

    <prefix>.feeds     compacted, `cluster.feeds_partitions` partitions, key feed id: the feed list
    <prefix>.cursors   compacted, the same partition count, key feed id: each feed's cursor

Both topics are created up front with the configured partition count (partitions cannot be added
later without moving feeds, and the test broker cannot add them at all).  A feed's cursor lands
in the same partition number as its spec (same key, same partitioner, same count), so the owner
of feeds partition p restores cursors from cursors partition p only.

aiokafka's `KafkaError` becomes `SinkError` (reason `cluster_<name>`) here and in the modules of
this package that talk to the broker, nowhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from daemon.errors import ConfigError, SinkError
from daemon.settings import ClusterSettings, KafkaSettings
from daemon.sinks.kafka import client_options, create_missing, translate

log = structlog.get_logger(__name__)

Record = Any  # aiokafka's ConsumerRecord (untyped)


def feeds_topic(cluster: ClusterSettings) -> str:
    return f"{cluster.topic_prefix}.feeds"


def cursors_topic(cluster: ClusterSettings) -> str:
    return f"{cluster.topic_prefix}.cursors"


def group_consumer(
    options: dict[str, Any], cluster: ClusterSettings, role: str, **extra: Any
) -> AIOKafkaConsumer:
    """A member of the group `<cluster.group>.<role>` with the cluster's timing; it commits
    offsets itself and starts from the beginning of what the group never committed."""
    return AIOKafkaConsumer(
        **options,
        group_id=f"{cluster.group}.{role}",
        session_timeout_ms=cluster.session_timeout_ms,
        heartbeat_interval_ms=cluster.heartbeat_interval_ms,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **extra,
    )


async def ensure_topics(kafka: KafkaSettings, cluster: ClusterSettings, bootstrap: str) -> None:
    """Create the feeds and cursors topics when missing; refuse partition counts that differ."""
    admin = AIOKafkaAdminClient(**client_options(kafka, bootstrap))
    try:
        await admin.start()
        names = [feeds_topic(cluster), cursors_topic(cluster)]
        topics = [_compacted(kafka, cluster, n) for n in names]
        await create_missing(admin, topics, "cluster.topics_created")
        _same_count(await admin.describe_topics(names))
    except KafkaError as exc:
        raise translate(exc) from exc
    finally:
        await admin.close()


def _compacted(kafka: KafkaSettings, cluster: ClusterSettings, name: str) -> NewTopic:
    return NewTopic(
        name=name,
        num_partitions=cluster.feeds_partitions,
        replication_factor=kafka.topics.replication_factor,
        topic_configs={"cleanup.policy": "compact"},
    )


def _same_count(described: Any) -> None:
    counts = {t["topic"]: len(t.get("partitions") or ()) for t in described}
    if len(set(counts.values())) > 1:
        raise ConfigError(
            "cluster.feeds_partitions",
            f"the feeds and cursors topics must have as many partitions: {counts}",
        )


async def read_partitions(
    kafka: KafkaSettings, bootstrap: str, topic: str, partitions: Iterable[int] | None = None
) -> tuple[list[Record], dict[int, int]]:
    """Every record of `partitions` of `topic` (all of them when None), from the beginning up to
    the end offsets taken when reading starts; also returns those end offsets per partition.

    On a broker whose end offset is the last *batch*'s base + 1 (the test broker), records after
    that batch's first one are missed: writers of a table read this way send one record per
    batch (`send_and_wait` in turn), and the feeds topic's group consumer goes on from the
    returned offsets anyway."""
    consumer = AIOKafkaConsumer(
        **client_options(kafka, bootstrap), group_id=None, enable_auto_commit=False
    )
    try:
        await consumer.start()
        if partitions is None:
            await consumer.topics()  # loads the metadata `partitions_for_topic` reads
        wanted = partitions if partitions is not None else consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(wanted or ())]
        if not tps:
            return [], {}
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = {tp: int(offset) for tp, offset in (await consumer.end_offsets(tps)).items()}
        async with asyncio.timeout(kafka.request_timeout_ms / 1000):
            records = await _read_until(consumer, ends)
    except TimeoutError:
        raise SinkError("cluster_read_timeout", f"{topic}: not read to its end in time") from None
    except KafkaError as exc:
        raise translate(exc) from exc
    finally:
        await consumer.stop()
    return records, {tp.partition: end for tp, end in ends.items()}


async def _read_until(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[Record]:
    records: list[Record] = []
    todo = {tp for tp, end in ends.items() if end > 0}
    while todo:
        batch = await consumer.getmany(*todo, timeout_ms=500)
        for part in batch.values():
            records += part
        todo = {tp for tp in todo if await consumer.position(tp) < ends[tp]}
    return records
