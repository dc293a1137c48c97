"""Fixtures of the story tests: the seeds' texts, a store on disk, an article factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.extract.textclean import CleanCapture, clean_capture
from daemon.records import Article, ArticleFields, FeedEntry, Origin
from daemon.settings import StoriesSettings
from daemon.state.sqlite import Store
from daemon.stories.storyteller import Storyteller

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2022, 9, 10, 12, tzinfo=UTC)


def make_article(
    text: str,
    url: str,
    *,
    title: str | None = None,
    language: str | None = "en",
    published: datetime | None = T0,
    site: str | None = None,
) -> Article:
    entry = FeedEntry(origin=Origin(kind="feed", id="f1"), url=url)
    fetched = (published or T0) + timedelta(minutes=5)
    fields = ArticleFields(title=title, language=language, published_at=published, site_name=site)
    return Article(entry=entry, url=url, canonical_url=url, text=text, fetched_at=fetched,
                   extraction="ok", fields=fields)  # fmt: skip


@pytest.fixture
def article() -> Callable[..., Article]:
    return make_article


@pytest.fixture
def seeds() -> dict[str, CleanCapture]:
    """Each seed capture, cleaned as the extractor cleans it, by its number ("000" … "004")."""
    return {
        path.name[:3]: clean_capture(path.read_text(encoding="utf-8"))
        for path in sorted((REPO / "seeds").glob("*.txt"))
    }


@pytest.fixture
async def storyteller(store: Store) -> Storyteller:
    teller = Storyteller(StoriesSettings(), store)
    await teller.start()
    return teller
