"""Fixtures of the extraction tests: paths of the golden files and a shared worker pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.extract.pool import ExtractPool

GOLDEN = Path(__file__).parent / "golden"
SEEDS = Path(__file__).parents[2] / "seeds"


@pytest.fixture(scope="module")
def pool() -> Iterator[ExtractPool]:
    """A two-worker pool shared by a module's tests (worker start-up is the slow part)."""
    shared = ExtractPool(workers=2, timeout=10.0, max_tasks=50)
    shared.start()
    yield shared
    shared.close_now()
