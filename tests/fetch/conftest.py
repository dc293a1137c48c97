"""Fixtures of the fetch tests: a real local HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.httpserver import HttpServer


@pytest.fixture
def server() -> Iterator[HttpServer]:
    """A started HTTP server on 127.0.0.1 with an empty route table."""
    with HttpServer() as running:
        yield running
