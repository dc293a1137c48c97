"""Cluster-mode helpers: settings for a group on the test broker, instances that forward
extracted articles, dedup owners in this process or in a child process, and the public events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from daemon.app import Runtime, runtime
from daemon.cluster.articles import ArticleForwarder
from daemon.cluster.dedupowner import DedupOwner
from daemon.observability.metrics import Metrics
from daemon.records import FeedEntry, FetchedPage, Origin
from daemon.settings import Settings, load
from daemon.sinks.embedded import EmbeddedBroker
from daemon.sinks.kafka import KafkaSink, topic_names

CHANNELS = ("articles", "duplicates", "updates", "errors")


@pytest.fixture
def overrides(broker: EmbeddedBroker, tmp_path: Path) -> dict[str, Any]:
    """Settings (as `load()` overrides, JSON-ready) of one cluster on the test broker: a fresh
    group and topic prefixes, a short session timeout, one extraction worker."""
    tag = uuid.uuid4().hex[:10]
    return {
        "kafka": {
            "bootstrap_servers": broker.bootstrap_servers,
            "enable_idempotence": False,
            "linger_ms": 0,
            "topics": {"prefix": f"t{tag}.", "partitions": 1},
        },
        "cluster": {
            "enabled": True,
            "group": f"g{tag}",
            "session_timeout_ms": 1000,
            "heartbeat_interval_ms": 200,
            "topic_prefix": f"c{tag}",
            "replay_partitions": 4,
        },
        "extract": {"workers": 1},
        "pipeline": {"shutdown_grace": 5.0},
        "state": {"dir": str(tmp_path / "state")},
    }


def settings_for(overrides: dict[str, Any], state: Path) -> Settings:
    return load(None, **(overrides | {"state": {"dir": str(state)}}))


@contextlib.asynccontextmanager
async def instance(settings: Settings) -> AsyncIterator[tuple[Runtime, ArticleForwarder]]:
    """One newsd instance in cluster mode: its pipeline forwards extracted articles."""
    forwarder = ArticleForwarder(settings)
    await forwarder.start()
    try:
        sink = KafkaSink(settings.kafka, settings.kafka.bootstrap_servers or "")
        async with runtime(settings, sink, forward=forwarder) as rt:
            yield rt, forwarder
    finally:
        await forwarder.close()


@contextlib.asynccontextmanager
async def owner(settings: Settings) -> AsyncIterator[DedupOwner]:
    """A dedup owner running in this process until the block ends (clean stop)."""
    sink = KafkaSink(settings.kafka, settings.kafka.bootstrap_servers or "")
    await sink.start()
    stop = asyncio.Event()
    member = DedupOwner(settings, sink, Metrics())
    task = asyncio.create_task(member.run(stop))
    try:
        yield member
    finally:
        stop.set()
        await task
        await sink.close()


async def owner_process(overrides: dict[str, Any], path: Path) -> asyncio.subprocess.Process:
    """A dedup owner in a child process (`python -m tests.cluster.owner_process`)."""
    await asyncio.to_thread(path.write_text, json.dumps(overrides))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.cluster.owner_process", str(path),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


def text_page(url: str, text: str, feed_id: str, when: datetime | None = None) -> FetchedPage:
    """A fetched plain-text page (like the seeds) from feed `feed_id`."""
    at = when or datetime(2026, 1, 1, 12, tzinfo=UTC)
    entry = FeedEntry(origin=Origin("feed", feed_id), url=url, published_at=at)
    body = text.encode()
    return FetchedPage(entry, url, 200, "text/plain; charset=utf-8", body, at,
                       is_text_capture=True)  # fmt: skip


async def public_events(
    settings: Settings, expect: int, timeout: float = 20.0, settle: float = 1.0
) -> list[dict[str, Any]]:
    """Every event on the public article topics (all channels): read from the beginning until
    `expect` arrived (or `timeout`), then `settle` seconds more for unexpected extra ones."""
    names = topic_names(settings.kafka.topics)
    consumer = AIOKafkaConsumer(
        *(names[channel] for channel in CHANNELS),
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while len(found) < expect:
                    found += _values(await consumer.getmany(timeout_ms=200))
        loop = asyncio.get_running_loop()
        until = loop.time() + settle
        while loop.time() < until:
            found += _values(await consumer.getmany(timeout_ms=200))
    finally:
        await consumer.stop()
    return found


def _values(batch: dict[Any, list[Any]]) -> list[dict[str, Any]]:
    return [json.loads(record.value) for records in batch.values() for record in records]
