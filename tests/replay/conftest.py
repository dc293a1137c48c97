"""Fixtures for replay tests: paths to seeds, WARC fixtures and the shared corpora."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from daemon.fetch.contract import HttpResponse
from tests.conftest import CORPORA

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Example News</title><link>https://news.example/</link>
<item><title>Bridge reopens after repairs</title><link>https://news.example/a/bridge</link>
<guid>bridge-1</guid><pubDate>Tue, 03 Sep 2024 08:00:00 GMT</pubDate>
<description>The bridge reopened on Monday.</description></item>
<item><title>Never fetched</title><link>https://news.example/a/missing</link>
<guid>missing-1</guid></item>
</channel></rss>
"""
PAGE = (
    b"<!doctype html><html><head><title>Bridge</title></head><body><article><p>"
    + (b"The bridge reopened on Monday after two years of repairs. " * 20)
    + b"</p></article></body></html>"
)


@pytest.fixture
def seeds() -> Path:
    return REPO / "seeds"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora not present at {CORPORA}")
    return CORPORA


@pytest.fixture
def response() -> Callable[..., HttpResponse]:
    """Build an HttpResponse as the HTTP client returns it (decoded body, lower-case headers)."""

    def build(
        url: str,
        body: bytes,
        content_type: str,
        *,
        at: datetime = datetime(2024, 9, 3, 9, 30, 15, 123456, tzinfo=UTC),
        final_url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        return HttpResponse(
            url=url,
            final_url=final_url or url,
            status=200,
            headers={"content-type": content_type, **(headers or {})},
            body=body,
            fetched_at=at,
            raw_request_headers={"user-agent": "newsd/test", "accept": "*/*"},
        )

    return build


@pytest.fixture
def rss() -> bytes:
    """An RSS feed with two items: `…/a/bridge` (archived in tests) and `…/a/missing`."""
    return RSS


@pytest.fixture
def page() -> bytes:
    return PAGE
