"""Fixtures of the feed tests: feed state tables in the shared store, a guarded client for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from daemon.fetch.client import PoliteClient
from daemon.sources.feedstate import FeedStateRepo
from daemon.state.sqlite import Store
from tests.fetch.support import fetch_settings

FIXTURES = Path(__file__).parent / "fixtures"


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
