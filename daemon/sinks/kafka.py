"""The Kafka sink (aiokafka): explicit topics, acks=all, ordered deliveries per cluster key.

Works against Apache Kafka (KRaft) and the embedded Tansu broker.  Topics are created at start-up
with the configured partitions, replication and retention; the daemon never relies on broker
auto-creation.  aiokafka's `KafkaError` is translated into `SinkError` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, KafkaTimeoutError

from daemon.errors import SinkError
from daemon.retry import Backoff
from daemon.settings import KafkaSettings, TopicSettings
from daemon.sinks.base import Channel, OutMessage

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
    """Connection options shared by the producer, the admin client and `newsd tail`."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": settings.client_id,
        "request_timeout_ms": settings.request_timeout_ms,
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
        options |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": settings.sasl_username,
            "sasl_plain_password": password,
        }
    return options


class KafkaSink:
    """Publishes `OutMessage`s; a delivery completes when the broker acknowledged (acks=all)."""

    def __init__(self, settings: KafkaSettings, bootstrap_servers: str) -> None:
        self.settings = settings
        self.bootstrap = bootstrap_servers
        self.topics = topic_names(settings.topics)
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        if self.settings.create_topics:
            await ensure_topics(self.settings, self.bootstrap)
        self._producer = AIOKafkaProducer(
            **client_options(self.settings, self.bootstrap),
            acks="all",
            enable_idempotence=self.settings.enable_idempotence,
            compression_type=_codec(self.settings.compression_type),
            linger_ms=self.settings.linger_ms,
        )
        await _with_connect_retries(self._producer.start, "producer")
        log.info("sink.kafka.started", bootstrap_servers=self.bootstrap, topics=self.topics)

    async def send(self, message: OutMessage) -> Awaitable[None]:
        """Enqueue the message; the returned awaitable retries retryable failures with backoff
        up to `kafka.send_retries` times and raises `SinkError` when it gives up."""
        future = await self._enqueue(message)
        return self._deliver(message, future)

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
            raise _translate(exc) from exc
        return future

    async def _deliver(self, message: OutMessage, future: asyncio.Future[Any]) -> None:
        for attempt in range(self.settings.send_retries + 1):
            try:
                await future
                return
            except KafkaError as exc:
                error = _translate(exc)
                if not error.retryable or attempt == self.settings.send_retries:
                    raise error from exc
                log.warning("sink.kafka.retry", reason=error.reason, attempt=attempt + 1)
                await asyncio.sleep(_SEND.delay(attempt, _rng))
                future = await self._enqueue(message)

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.flush()
            finally:
                await producer.stop()

    def _require(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise SinkError("not_started", "the Kafka sink is not started")
        return self._producer


async def ensure_topics(settings: KafkaSettings, bootstrap: str) -> list[str]:
    """Create the missing topics with the configured layout; return the names created."""
    admin = AIOKafkaAdminClient(**client_options(settings, bootstrap))
    await _with_connect_retries(admin.start, "admin")
    try:
        existing = set(await admin.list_topics())
        wanted = [name for name in topic_names(settings.topics).values() if name not in existing]
        if wanted:
            compacted = settings.topics.prefix + settings.topics.stories
            response = await admin.create_topics(
                [_new_topic(settings.topics, n, compact=n == compacted) for n in wanted]
            )
            _check_created(response)
            log.info("sink.kafka.topics_created", topics=wanted)
        return wanted
    except KafkaError as exc:
        raise _translate(exc) from exc
    finally:
        await admin.close()


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


def _check_created(response: Any) -> None:
    for topic_error in getattr(response, "topic_errors", []):
        name, code = topic_error[0], topic_error[1]
        if code not in (0, _TOPIC_EXISTS):
            raise SinkError("create_topic", f"{name}: Kafka error code {code}")


async def _with_connect_retries(start: Any, what: str) -> None:
    for attempt in range(_CONNECT.retries + 1):
        try:
            await start()
            return
        except KafkaError as exc:
            error = _translate(exc)
            if attempt == _CONNECT.retries:
                raise error from exc
            log.warning("sink.kafka.connect_retry", client=what, reason=error.reason)
            await asyncio.sleep(_CONNECT.delay(attempt, _rng))


def _translate(exc: KafkaError) -> SinkError:
    reason = type(exc).__name__.removesuffix("Error").lower() or "kafka"
    retryable = bool(getattr(exc, "retriable", False)) or isinstance(exc, KafkaTimeoutError)
    return SinkError(f"kafka_{reason}", str(exc), retryable=retryable)


def _codec(name: str) -> str | None:
    return None if name == "none" else name
