"""Fixtures of the dedup tests: real bodies, a store on disk, a controllable clock, a factory."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.dedup.deduper import Deduper
from daemon.records import Article, ArticleFields, FeedEntry, Origin
from daemon.settings import DedupSettings
from daemon.state.sqlite import Store

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


class Clock:
    """A settable clock (seconds)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def bodies() -> list[str]:
    return [item["text"] for item in json.loads((FIXTURES / "bodies.json").read_text())]


@pytest.fixture
def same_story_pairs() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((FIXTURES / "same_story_pairs.json").read_text())
    return data


@pytest.fixture
def seeds() -> dict[str, str]:
    return {p.name[:3]: p.read_text() for p in sorted((REPO / "seeds").glob("*.txt"))}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_article(
    text: str, url: str, *, guid: str | None = None, feed: str = "f1", authors: tuple[str, ...] = ()
) -> Article:
    entry = FeedEntry(origin=Origin(kind="feed", id=feed), url=url, guid=guid)
    return Article(entry=entry, url=url, canonical_url=url, text=text,
                   fetched_at=datetime(2026, 1, 1, tzinfo=UTC), extraction="ok",
                   fields=ArticleFields(title="t", authors=authors))  # fmt: skip


@pytest.fixture
def article() -> Callable[..., Article]:
    return make_article


@pytest.fixture
async def deduper(store: Store, clock: Clock) -> Deduper:
    deduper = Deduper(DedupSettings(), store, clock=clock)
    await deduper.start()
    return deduper
