"""Fixtures of the feed tests: a real local HTTP server, a durable store, a fetcher for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from daemon.fetch.client import PoliteClient
from daemon.sources.feedstate import FeedStateRepo
from daemon.state.sqlite import Store
from tests.fetch.support import fetch_settings
from tests.httpserver import HttpServer

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def server() -> Iterator[HttpServer]:
    """A started HTTP server on 127.0.0.1 with an empty route table."""
    with HttpServer() as running:
        yield running


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """An open SQLite store in a temporary directory."""
    opened = Store.in_dir(tmp_path / "state")
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def repo(store: Store) -> FeedStateRepo:
    """Feed state tables created in `store`."""
    created = FeedStateRepo(store)
    await created.start()
    return created


@pytest.fixture
async def fetcher() -> AsyncIterator[PoliteClient]:
    """The real guarded client, allowing 127.0.0.1 only, without per-domain spacing."""
    async with PoliteClient(fetch_settings()) as client:
        yield client
