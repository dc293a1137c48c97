"""What each command does, assembled from the stages.  The CLI parses; this module runs.

`Runtime` owns the process-wide resources in start-up order (logging → broker → store → sink →
HTTP client → stages → pipeline) and closes them in reverse, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from daemon.errors import SinkError
from daemon.observability.logging import configure
from daemon.settings import Settings, dump
from daemon.sinks.embedded import EmbeddedBroker
from daemon.sinks.kafka import client_options, topic_names

log = structlog.get_logger(__name__)


def show_config(settings: Settings) -> int:
    """Print the resolved settings as JSON, secrets masked."""
    print(json.dumps(dump(settings), indent=2, ensure_ascii=False))
    return 0


@contextlib.asynccontextmanager
async def broker_for(settings: Settings) -> AsyncIterator[tuple[Settings, EmbeddedBroker | None]]:
    """Yield settings pointing at a broker: the configured one, or the embedded one started here.

    The embedded broker does not accept aiokafka's idempotent producer, so idempotence is turned
    off (and logged) when it is used.
    """
    mode = settings.embedded_broker.enabled
    if mode == "never" or (mode == "auto" and settings.kafka.bootstrap_servers):
        yield settings, None
        return
    embedded = EmbeddedBroker(settings.embedded_broker.host, settings.embedded_broker.port)
    await embedded.start()
    log.info(
        "broker.embedded",
        bootstrap_servers=embedded.bootstrap_servers,
        note="in-memory Kafka-compatible broker; events are lost when newsd stops",
    )
    kafka = settings.kafka.model_copy(
        update={"bootstrap_servers": embedded.bootstrap_servers, "enable_idempotence": False}
    )
    try:
        yield settings.model_copy(update={"kafka": kafka}), embedded
    finally:
        await embedded.stop()


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def tail(
    settings: Settings, topic: str, *, from_beginning: bool, limit: int | None, full: bool
) -> int:
    """Print events from `topic` (or a channel name) until interrupted or `limit` reached."""
    configure(settings.log.level, settings.log.format)
    bootstrap = settings.kafka.bootstrap_servers or _embedded_address(settings)
    name = topic_names(settings.kafka.topics).get(topic, topic)  # type: ignore[call-overload]
    consumer = AIOKafkaConsumer(
        name,
        **client_options(settings.kafka, bootstrap),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        raise SinkError("kafka_connect", f"{bootstrap}: {exc}") from exc
    stop = asyncio.Event()
    stop_on_signals(stop)
    try:
        await _print_records(consumer, stop, limit, full)
    finally:
        await consumer.stop()
    return 0


async def _print_records(
    consumer: AIOKafkaConsumer, stop: asyncio.Event, limit: int | None, full: bool
) -> None:
    printed = 0
    while not stop.is_set() and (limit is None or printed < limit):
        batch = await consumer.getmany(timeout_ms=500, max_records=100)
        for records in batch.values():
            for record in records:
                if limit is not None and printed >= limit:
                    return
                print(_render(record.value, full), flush=True)
                printed += 1


def _render(value: bytes, full: bool) -> str:
    if full:
        return value.decode("utf-8", "replace")
    event: dict[str, Any] = orjson.loads(value)
    keys = (
        "type",
        "event_id",
        "published_at",
        "site_name",
        "title",
        "url",
        "duplicate_of",
        "reason",
    )
    return json.dumps({k: event[k] for k in keys if event.get(k) is not None}, ensure_ascii=False)


def _embedded_address(settings: Settings) -> str:
    return f"{settings.embedded_broker.host}:{settings.embedded_broker.port}"


def _stderr_isatty() -> bool:
    return sys.stderr.isatty()
