"""The internal topics of cluster mode (part B) and the stage that forwards extracted articles.

    <prefix>.articles   1 partition, delete after kafka.topics.retention_ms
                        key: the feed id (one feed's articles keep their order)
                        value: `articlecodec` record (an article, or a replay end-of-file marker)
    <prefix>.dedup      1 partition, compact + delete after cluster.dedup_retention_ms
                        key: the article's event id; value: what the owner needs to rebuild
    <prefix>.replay     cluster.replay_partitions partitions, delete after retention_ms
                        key: run id + file index; value: one file of a distributed replay

One partition for articles: exactly one member of `<group>.dedup` is assigned it, so exactly one
instance decides at a time and decides in the topic's order (see docs/scaling.md).

`ArticleForwarder` is the pipeline's forward stage in cluster mode: it returns a delivery that
completes when the broker acknowledged the record (acks=all), so the instance's cursor moves on
only then.  aiokafka's `KafkaError` becomes `SinkError` here, as in `sinks/kafka.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from daemon.cluster.articlecodec import Position, encode
from daemon.errors import SinkError
from daemon.records import Article
from daemon.settings import Settings
from daemon.sinks.kafka import client_options, create_missing, flush_and_stop, translate

log = structlog.get_logger(__name__)


def articles_topic(settings: Settings) -> str:
    return f"{settings.cluster.topic_prefix}.articles"


def dedup_topic(settings: Settings) -> str:
    return f"{settings.cluster.topic_prefix}.dedup"


def replay_topic(settings: Settings) -> str:
    return f"{settings.cluster.topic_prefix}.replay"


def internal_topics(settings: Settings) -> list[NewTopic]:
    """The internal topics of the dedup owner and of distributed replay (see module)."""
    topics, cluster = settings.kafka.topics, settings.cluster
    retention = {"retention.ms": str(topics.retention_ms)}
    changelog = {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(cluster.dedup_retention_ms),
    }
    return [
        NewTopic(articles_topic(settings), 1, topics.replication_factor, topic_configs=retention),
        NewTopic(dedup_topic(settings), 1, topics.replication_factor, topic_configs=changelog),
        NewTopic(
            replay_topic(settings),
            cluster.replay_partitions,
            topics.replication_factor,
            topic_configs=retention,
        ),
    ]


async def ensure_internal_topics(settings: Settings) -> list[str]:
    """Create the missing internal topics; return the names created."""
    admin = AIOKafkaAdminClient(**options(settings))
    try:
        await admin.start()
        return await create_missing(admin, internal_topics(settings), "cluster.topics_created")
    except KafkaError as exc:
        raise translate(exc) from exc
    finally:
        await admin.close()


def options(settings: Settings) -> dict[str, Any]:
    """Connection options of every internal client (the configured Kafka's)."""
    return client_options(settings.kafka, settings.kafka.bootstrap_servers or "")


def producer(settings: Settings) -> AIOKafkaProducer:
    """A producer for the internal topics: acks=all, `cluster.compression_type` (lz4: gzip
    cost the owner more CPU than deciding), the configured size limit."""
    codec = settings.cluster.compression_type
    return AIOKafkaProducer(
        **options(settings),
        acks="all",
        enable_idempotence=settings.kafka.enable_idempotence,
        compression_type=None if codec == "none" else codec,
        linger_ms=settings.kafka.linger_ms,
        max_request_size=settings.kafka.max_message_bytes,
    )


class ArticleForwarder:
    """Forward stage: `delivery = await forward(article)` (see module).

    A replay worker registers each page's `Position` under its entry before feeding it
    (`place`), so the record carries its place in the run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = articles_topic(settings)
        self.positions: dict[int, Position] = {}  # id(entry) → place in a distributed replay
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        await ensure_internal_topics(self.settings)
        self._producer = producer(self.settings)
        try:
            await self._producer.start()
        except KafkaError as exc:
            raise translate(exc) from exc

    def place(self, entry: object, position: Position) -> None:
        self.positions[id(entry)] = position

    async def __call__(self, article: Article) -> Awaitable[None]:
        """Enqueue the article; the delivery raises `SinkError` if the broker refused it."""
        value = encode(article, self.positions.pop(id(article.entry), None))
        return await self.send(article.entry.origin.id.encode("utf-8"), value)

    async def send(self, key: bytes, value: bytes) -> Awaitable[None]:
        """Enqueue one raw record on the articles topic (markers too); see `__call__`."""
        if self._producer is None:
            raise SinkError("not_started", "the article forwarder was not started")
        try:
            future = await self._producer.send(self.topic, value, key=key)
        except KafkaError as exc:
            raise translate(exc) from exc
        return asyncio.ensure_future(_acknowledged(future))

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await flush_and_stop(producer)


async def _acknowledged(future: asyncio.Future[Any]) -> None:
    try:
        await future
    except KafkaError as exc:
        raise translate(exc) from exc
