"""The Kafka sink (aiokafka): explicit topics, acks=all, ordered deliveries per cluster key.

Works against Apache Kafka (KRaft) and the embedded Tansu broker.  Topics are created at start-up
with the configured partitions, replication and retention; the daemon never relies on broker
auto-creation.  aiokafka's `KafkaError` is translated into `SinkError` here and nowhere else.

Per-key order under retries: a message is handed to the producer only once the previous message
with the same key (an original, before its reposts) was acknowledged.  A failed send is retried
by re-enqueueing it, which would put it behind messages handed over since; waiting for the
predecessor rules that out.  When the predecessor fails for good, the message fails too
(`kafka_predecessor_failed`, not retryable here: the pipeline redoes both, in order).  Messages
with other keys are not held up.

Message size: each topic's limit is its `max.message.bytes` as the broker describes it, else
`kafka.max_message_bytes`; `oversize()` measures a message as aiokafka does before sending
(which refuses anything over `max_request_size` client-side, so that is set to the largest limit).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Awaitable
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from daemon.errors import SinkError
from daemon.retry import Backoff, OnRetry, retry
from daemon.settings import KafkaSettings, TopicSettings
from daemon.sinks.base import Channel, OutMessage
from daemon.sinks.kafka_security import connection_options, tls_preflight
from daemon.sinks.registry import register_schemas

log = structlog.get_logger(__name__)

_TOPIC_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS
_CONNECT = Backoff(retries=7, base=0.5, cap=8.0)
_SEND = Backoff(base=0.5, cap=10.0)
_rng = random.Random()


def topic_names(topics: TopicSettings) -> dict[Channel, str]:
    """The topic names, with the configured prefix applied."""
    prefix = topics.prefix
    return {
        "articles": prefix + topics.articles,
        "duplicates": prefix + topics.duplicates,
        "updates": prefix + topics.updates,
        "errors": prefix + topics.errors,
        "stories": prefix + topics.stories,
    }


def client_options(settings: KafkaSettings, bootstrap: str) -> dict[str, Any]:
    """Connection options shared by the producer, the admin client and `newsd tail`; the TLS and
    SASL ones are checked here (`ConfigError` naming the key, see `kafka_security`)."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": settings.client_id,
        "request_timeout_ms": settings.request_timeout_ms,
    }
    return options | connection_options(settings)


def batch_size(batch_bytes: int, limits: dict[Channel, int]) -> int:
    """The producer's batch size: `batch_bytes`, but never more than the smallest topic limit.

    aiokafka's default (16 KiB) is smaller than one article event, so every event went out as
    a batch of its own, compressed and checksummed alone.  A batch is filled up to this size
    before compression, so a batch of several events never exceeds what a topic accepts.
    """
    return min(batch_bytes, *limits.values())


class KafkaSink:
    """Publishes `OutMessage`s; a delivery completes when the broker acknowledged (acks=all)."""

    def __init__(self, settings: KafkaSettings, bootstrap_servers: str) -> None:
        self.settings = settings
        self.bootstrap = bootstrap_servers
        self.topics = topic_names(settings.topics)
        self._options = client_options(settings, bootstrap_servers)  # fails fast on bad TLS/SASL
        self.limits: dict[Channel, int] = dict.fromkeys(self.topics, settings.max_message_bytes)
        self._producer: AIOKafkaProducer | None = None
        self._latest: dict[bytes, asyncio.Task[None]] = {}  # key → its last unfinished delivery

    async def start(self) -> None:
        await tls_preflight(self._options, self.bootstrap)
        if self.settings.create_topics:
            await ensure_topics(self.settings, self.bootstrap)
        await register_schemas(self.settings.schema_registry, self.topics)
        self.limits = await message_limits(self.settings, self.bootstrap)
        self._producer = AIOKafkaProducer(
            **self._options,
            acks="all",
            enable_idempotence=self.settings.enable_idempotence,
            compression_type=_codec(self.settings.compression_type),
            linger_ms=self.settings.linger_ms,
            max_batch_size=batch_size(self.settings.batch_bytes, self.limits),
            max_request_size=max(self.limits.values()),
        )
        await _with_connect_retries(self._producer.start, "producer")
        log.info(
            "sink.kafka.started",
            bootstrap_servers=self.bootstrap,
            topics=self.topics,
            max_message_bytes=self.limits,
        )

    def oversize(self, message: OutMessage) -> int:
        """Bytes over the topic's limit, measured as aiokafka measures a record."""
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(
            message.key, message.value, list(message.headers)
        )
        return int(size) - self.limits[message.channel]

    async def send(self, message: OutMessage) -> Awaitable[None]:
        """Enqueue the message (after its key's previous message was acknowledged); the returned
        awaitable retries retryable failures with backoff up to `kafka.send_retries` times and
        raises `SinkError` when it gives up."""
        previous = self._latest.get(message.key)
        if previous is None:
            future = await self._enqueue(message)
            delivery = asyncio.ensure_future(self._deliver(message, future))
        else:
            delivery = asyncio.ensure_future(self._after(previous, message))
        self._latest[message.key] = delivery
        delivery.add_done_callback(lambda done: self._forget(message.key, done))
        return delivery

    def _forget(self, key: bytes, done: asyncio.Task[None]) -> None:
        if self._latest.get(key) is done:
            del self._latest[key]

    async def _after(self, previous: asyncio.Task[None], message: OutMessage) -> None:
        try:
            await asyncio.shield(previous)
        except Exception as exc:
            raise SinkError(
                "kafka_predecessor_failed", f"an earlier message with this key failed: {exc}"
            ) from exc
        await self._deliver(message, await self._enqueue(message))

    async def _enqueue(self, message: OutMessage) -> asyncio.Future[Any]:
        producer = self._require()
        try:
            future: asyncio.Future[Any] = await producer.send(
                self.topics[message.channel],
                value=message.value,
                key=message.key,
                headers=list(message.headers),
            )
        except KafkaError as exc:
            raise translate(exc) from exc
        return future

    async def _deliver(self, message: OutMessage, future: asyncio.Future[Any]) -> None:
        """Await the acknowledgement; a retryable failure re-enqueues the message (backoff)."""
        first = iter([future])

        async def attempt() -> None:
            pending = next(first, None) or await self._enqueue(message)
            try:
                await pending
            except KafkaError as exc:
                raise translate(exc) from exc

        backoff = dataclasses.replace(_SEND, retries=self.settings.send_retries)
        await retry(attempt, backoff, rng=_rng, on_retry=_log_retry("sink.kafka.retry"))

    async def check(self) -> None:
        """Ask the broker for its metadata (readiness); `SinkError` when no broker answers."""
        producer = self._require()
        try:
            await producer.client.fetch_all_metadata()
        except KafkaError as exc:
            raise translate(exc) from exc

    async def close(self) -> None:
        if self._latest:  # messages still waiting for their predecessor: let them finish
            await asyncio.gather(*self._latest.values(), return_exceptions=True)
        producer, self._producer = self._producer, None
        if producer is not None:
            await flush_and_stop(producer)

    def _require(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise SinkError("not_started", "the Kafka sink is not started")
        return self._producer


async def ensure_topics(settings: KafkaSettings, bootstrap: str) -> list[str]:
    """Create the missing topics with the configured layout; return the names created."""
    admin = AIOKafkaAdminClient(**client_options(settings, bootstrap))
    await _with_connect_retries(admin.start, "admin")
    try:
        compacted = settings.topics.prefix + settings.topics.stories
        topics = [
            _new_topic(settings.topics, n, compact=n == compacted)
            for n in topic_names(settings.topics).values()
        ]
        return await create_missing(admin, topics, "sink.kafka.topics_created")
    except KafkaError as exc:
        raise translate(exc) from exc
    finally:
        await admin.close()


async def message_limits(settings: KafkaSettings, bootstrap: str) -> dict[Channel, int]:
    """Each channel's message limit: its topic's `max.message.bytes` where the broker describes
    it, else `kafka.max_message_bytes` (a describe failure is logged, not fatal)."""
    names = topic_names(settings.topics)
    admin = AIOKafkaAdminClient(**client_options(settings, bootstrap))
    await _with_connect_retries(admin.start, "admin")
    try:
        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names.values()]
        declared = _max_message_bytes(await admin.describe_configs(resources))
    except KafkaError as exc:
        log.warning("sink.kafka.limits_unknown", reason=translate(exc).reason)
        declared = {}
    finally:
        await admin.close()
    return {ch: declared.get(name, settings.max_message_bytes) for ch, name in names.items()}


def _max_message_bytes(responses: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    for response in responses:
        for resource in response.to_object().get("resources", []):
            for entry in resource.get("config_entries", []):
                value = str(entry.get("config_value") or "")
                if entry.get("config_names") == "max.message.bytes" and value.isdigit():
                    found[resource["resource_name"]] = int(value)
    return found


def _new_topic(topics: TopicSettings, name: str, *, compact: bool = False) -> NewTopic:
    # The stories topic keeps the latest summary per story key, forever (compacted).
    configs = (
        {"cleanup.policy": "compact"} if compact else {"retention.ms": str(topics.retention_ms)}
    )
    return NewTopic(
        name=name,
        num_partitions=topics.partitions,
        replication_factor=topics.replication_factor,
        topic_configs=configs,
    )


async def create_missing(
    admin: AIOKafkaAdminClient, topics: list[NewTopic], event: str
) -> list[str]:
    """Create those of `topics` the broker does not have (logged as `event`); their names.

    Kafka errors are raised as they are: the caller translates them at its boundary."""
    existing = set(await admin.list_topics())
    wanted = [t for t in topics if t.name not in existing]
    if wanted:
        _check_created(await admin.create_topics(wanted))
        log.info(event, topics=[t.name for t in wanted])
    return [t.name for t in wanted]


def _check_created(response: Any) -> None:
    for topic_error in getattr(response, "topic_errors", []):
        name, code = topic_error[0], topic_error[1]
        if code not in (0, _TOPIC_EXISTS):
            raise SinkError("create_topic", f"{name}: Kafka error code {code}")


async def _with_connect_retries(start: Any, what: str) -> None:
    """Start a client, retrying every broker error (at start-up the broker may be booting)."""

    async def attempt() -> None:
        try:
            await start()
        except KafkaError as exc:
            error = translate(exc)
            error.retryable = True
            raise error from exc

    await retry(
        attempt, _CONNECT, rng=_rng, on_retry=_log_retry("sink.kafka.connect_retry", client=what)
    )


def _log_retry(event: str, **fields: str) -> OnRetry:
    def on_retry(exc: BaseException, attempt: int) -> None:
        reason = getattr(exc, "reason", type(exc).__name__)
        log.warning(event, reason=reason, attempt=attempt, **fields)

    return on_retry


def translate(exc: KafkaError) -> SinkError:
    """aiokafka's error as a `SinkError` whose reason is counted (`kafka_<error name>`)."""
    if isinstance(exc, MessageSizeTooLargeError):  # refused client-side or by the broker
        return SinkError("too_large", str(exc))
    reason = type(exc).__name__.removesuffix("Error").lower() or "kafka"
    retryable = bool(getattr(exc, "retriable", False)) or isinstance(exc, KafkaTimeoutError)
    return SinkError(f"kafka_{reason}", str(exc), retryable=retryable)


def _codec(name: str) -> str | None:
    return None if name == "none" else name


async def flush_and_stop(producer: AIOKafkaProducer) -> None:
    """Wait for what the producer still holds, then close it (even if the flush failed)."""
    try:
        await producer.flush()
    finally:
        await producer.stop()
