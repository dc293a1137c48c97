"""The Extractor stage: FetchedPage in, Article out, with fallbacks and status."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.dedup.fingerprint import FingerprintParams, fingerprint
from daemon.dedup.keys import content_hash
from daemon.events import article_event
from daemon.extract.extractor import Extractor
from daemon.extract.pool import ExtractPool
from daemon.records import ExtractionStatus, FeedEntry, FetchedPage, Origin, Verdict
from daemon.settings import ExtractSettings
from tests.extract import tasks

SEEDS = Path(__file__).parents[2] / "seeds"
NOW = datetime(2024, 3, 1, tzinfo=UTC)  # fetch time: declared dates after it are absurd
PARAGRAPH = "The council approved the plan on Monday after a long debate about costs. " * 5


def _page(
    body: bytes = b"",
    *,
    url: str = "https://news.example.com/a/1?utm_source=x",
    failure: ExtractionStatus | None = None,
    text: bool = False,
    content: str | None = None,
    summary: str | None = None,
) -> FetchedPage:
    entry = FeedEntry(
        origin=Origin(kind="feed", id="f"),
        url=url,
        title="Feed title",
        content=content,
        summary=summary,
        authors=("By Ann Lee", "Associated Press"),
    )
    return FetchedPage(entry, url, 200, "text/html", body, NOW, failure, text)


def _html(extra_head: str = "", body: str = PARAGRAPH) -> bytes:
    return (
        f"<html><head><title>T</title>{extra_head}</head><body><article><h1>Headline here</h1>"
        f"<p>{body}</p><p>{body}</p></article></body></html>"
    ).encode()


@pytest.fixture
def extractor(pool: ExtractPool) -> Extractor:
    return Extractor(ExtractSettings(), pool=pool)


async def test_seed_capture_becomes_clean_article(extractor: Extractor) -> None:
    """A text capture goes through the cleaner: title, body, agency, language."""
    body = (SEEDS / "000_24d017f70a831444.txt").read_bytes()
    article = await extractor(_page(body, text=True))
    assert article.extraction == "ok"
    assert article.fields.title == "Pentagon Confirms Russian Troops Have Left Ukraine"
    assert "Leave a Reply" not in article.text
    assert article.fields.syndication == "EFE"
    assert article.fields.language == "en"
    assert article.fields.authors == (
        "Ann Lee",
    )  # from the feed; the feed's agency is syndication too
    assert article.canonical_url == "https://news.example.com/a/1"


async def test_html_page_uses_declared_metadata(extractor: Extractor) -> None:
    """HTML: body from trafilatura, metadata from JSON-LD, same-site canonical link."""
    ld = {"@type": "NewsArticle", "headline": "Declared", "datePublished": "2024-02-03T04:05:06Z"}
    head = (
        f'<script type="application/ld+json">{json.dumps(ld)}</script>'
        '<link rel="canonical" href="/a/1-canonical">'
    )
    article = await extractor(_page(_html(head)))
    assert article.extraction == "ok"
    assert article.fields.title == "Declared"
    assert article.fields.published_at == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert "council approved the plan" in article.text
    assert article.canonical_url == "https://news.example.com/a/1-canonical"


async def test_foreign_canonical_is_ignored(extractor: Extractor) -> None:
    """A canonical link to another site (a syndication partner) is not trusted."""
    article = await extractor(_page(_html('<link rel="canonical" href="https://other.org/x">')))
    assert article.canonical_url == "https://news.example.com/a/1"


async def test_paywalled_page_is_flagged(extractor: Extractor) -> None:
    """JSON-LD isAccessibleForFree=false on a page that yields only a teaser: paywalled."""
    ld = {"@type": "NewsArticle", "headline": "Paid", "isAccessibleForFree": False}
    head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    article = await extractor(_page(_html(head)))
    assert len(article.text) < 1000
    assert (article.extraction, article.fields.access) == ("ok", "paywalled")


# The pattern of metered sites (Wired, WSJ group, Postmedia, Reuters in the corpora): every
# article declares itself not free, on the article and on a part, and a paywall modal sits in
# the markup, yet the served page carries the whole text.
METERED_LD = {
    "@type": "NewsArticle",
    "headline": "Metered",
    "isAccessibleForFree": "False",
    "hasPart": {"@type": "WebPageElement", "isAccessibleForFree": "False", "cssSelector": ".body"},
}
METERED_MODAL = '<div class="paywall-modal paywall-modal__overlay"></div>'


async def test_metered_page_with_full_text_is_ok(extractor: Extractor) -> None:
    """A page declared not free (article, part, modal) that yields its whole text is `ok`."""
    head = f'<script type="application/ld+json">{json.dumps(METERED_LD)}</script>'
    paragraphs = [f"In part {i} of the story, {PARAGRAPH.lower()}" for i in range(1, 5)]
    body = "</p><p>".join(paragraphs[:3]) + "</p>" + METERED_MODAL + "<p>" + paragraphs[3]
    article = await extractor(_page(_html(head, body=body)))
    assert len(article.text) >= 1000
    assert article.extraction == "ok"


async def test_part_level_flag_on_a_teaser_is_paywalled(extractor: Extractor) -> None:
    """The flag only on a part (the article itself says free) still marks a teaser paywalled."""
    ld = {**METERED_LD, "isAccessibleForFree": True}
    head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    article = await extractor(_page(_html(head)))
    assert (article.extraction, article.fields.access) == ("ok", "paywalled")


@pytest.mark.parametrize("failure", ["blocked", "not_html", "too_large", "timeout"])
async def test_failed_fetch_falls_back_to_feed_content(
    extractor: Extractor, failure: ExtractionStatus
) -> None:
    """A page that could not be fetched uses the feed's content, cleaned of HTML."""
    content = f"<p>{PARAGRAPH}</p><p>The post X appeared first on Y</p>"
    article = await extractor(_page(failure=failure, content=content))
    assert article.extraction == "feed_content"
    assert article.text == PARAGRAPH.strip()
    assert article.fields.title == "Feed title"


@pytest.mark.parametrize("failure", ["blocked", "not_html", "too_large", "timeout"])
async def test_failure_passes_through_without_feed_content(
    extractor: Extractor, failure: ExtractionStatus
) -> None:
    """With nothing to fall back on, the fetch failure is the status."""
    article = await extractor(_page(failure=failure))
    assert article.extraction == failure
    assert article.text == ""


async def test_textless_page_uses_feed_summary_or_is_empty(extractor: Extractor) -> None:
    """A page with no text falls back to the summary; with no summary either it is `empty`."""
    empty = b"<html><body><nav>Home</nav></body></html>"
    with_summary = await extractor(_page(empty, summary=f"<b>{PARAGRAPH}</b>"))
    assert with_summary.extraction == "feed_content"
    assert with_summary.fields.summary == PARAGRAPH.strip()
    nothing = await extractor(_page(empty))
    assert nothing.extraction == "empty"


class StuckPool(ExtractPool):
    """A pool whose every document hangs in the worker, like a pathological page."""

    async def run(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        return await super().run(tasks.sleep_then, 30.0, 0)


async def test_extraction_timeout_falls_back_without_stalling() -> None:
    """An extraction past its timeout yields status `timeout` (no feed content) promptly."""
    pool = StuckPool(workers=1, timeout=0.5, max_tasks=10)
    extractor = Extractor(ExtractSettings(), pool=pool)
    await extractor.start()
    started = time.monotonic()
    try:
        article = await extractor(_page(_html(body=PARAGRAPH * 200)))
    finally:
        pool.close_now()
    assert article.extraction == "timeout"
    assert time.monotonic() - started < 10


async def test_a_date_only_page_has_day_precision_and_a_clean_headline(
    extractor: Extractor,
) -> None:
    """A page declaring only a date is published at that date, 00:00 UTC, with precision
    `day`; the event says so; the headline loses the site's name, the site name its tagline."""
    ld = {"@type": "NewsArticle", "headline": "Floods in Prague | Aktuálně.cz",
          "datePublished": "2024-02-01", "articleSection": "Domácí"}  # fmt: skip
    head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    head += '<meta property="og:site_name" content="Aktuálně.cz - Víte, co se právě děje">'
    article = await extractor(_page(_html(head), url="https://zpravy.aktualne.cz/a/r~1/"))
    fields = article.fields
    assert (fields.published_at, fields.published_at_precision) == (
        datetime(2024, 2, 1, tzinfo=UTC),
        "day",
    )
    assert (fields.title, fields.site_name) == ("Floods in Prague", "Aktuálně.cz")
    assert (fields.section, fields.article_type, fields.access) == ("Domácí", "news", "free")
    event = article_event(article, Verdict("new", "c1"))
    payload = json.loads(event.model_dump_json())
    assert payload["published_at"] == "2024-02-01T00:00:00Z"
    assert payload["published_at_precision"] == "day"
    assert payload["domain"] == "aktualne.cz"
    assert "\n\n" in payload["text"] and "\n\n\n" not in payload["text"]


async def test_a_page_without_body_uses_the_feed_text(extractor: Extractor) -> None:
    """A page the fetcher could not get (failure `empty`) with a feed summary is published
    from that summary."""
    article = await extractor(_page(failure="empty", summary=f"<p>{PARAGRAPH}</p>"))
    assert (article.extraction, article.text) == ("feed_content", PARAGRAPH.strip())


async def test_absurd_dates_become_null_and_are_counted(pool: ExtractPool) -> None:
    """A date more than a day after the fetch, before 1990, or a declared negative year is
    dropped and counted; a believable feed date still fills in for a dropped page date."""
    extractor = Extractor(ExtractSettings(), pool=pool)
    future = '<meta property="article:published_time" content="2999-01-01T00:00:00Z">'
    article = await extractor(_page(_html(future)))
    assert article.fields.published_at is None
    negative = '<meta name="date" content="-2000-01-01"><meta name="modified" content="1899-05-01">'
    article = await extractor(_page(_html(negative)))
    assert (article.fields.published_at, article.fields.modified_at) == (None, None)
    assert extractor.metrics.counts["extract.date_dropped.published_at"] == 2
    assert extractor.metrics.counts["extract.date_dropped.modified_at"] == 0
    page = _page(_html(future))
    entry = replace(page.entry, published_at=datetime(2024, 2, 1, tzinfo=UTC))
    article = await extractor(replace(page, entry=entry))
    assert article.fields.published_at == datetime(2024, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize("charset", ["windows-1251", "koi8-r", "utf-8"])
async def test_a_text_capture_is_decoded_in_its_declared_charset(
    extractor: Extractor, charset: str
) -> None:
    """A plain-text page is read in the charset its Content-Type declares."""
    text = "Заголовок новости дня\n\n" + "Городские службы начали подготовку к зиме. " * 10
    page = replace(
        _page(text.encode(charset), text=True), content_type=f"text/plain; charset={charset}"
    )
    article = await extractor(page)
    assert "\ufffd" not in article.text and "Городские службы" in article.text


async def test_worker_attaches_the_dedup_fingerprint_of_the_article_text(pool: ExtractPool) -> None:
    """With dedup's parameters, the worker fingerprints the article's final text (HTML and
    text captures); without them, and on a feed-content fallback, decide() gets none it can use."""
    params = FingerprintParams(shingle_size=4)
    printing = Extractor(ExtractSettings(), pool=pool, fingerprint=params)
    seed = (SEEDS / "000_24d017f70a831444.txt").read_bytes()
    for page in (_page(_html()), _page(seed, text=True)):
        article = await printing(page)
        assert article.fingerprint is not None and article.fingerprint.text == article.text
        assert article.fingerprint.content_hash == content_hash(article.text)
        assert article.fingerprint.params == params
        expected = fingerprint(article.text, params)
        assert (article.fingerprint.signature == expected.signature).all()
    plain = await Extractor(ExtractSettings(), pool=pool)(_page(_html()))
    assert plain.fingerprint is None
    fallback = await printing(_page(b"<html><body><p>x</p></body></html>", content=PARAGRAPH))
    assert fallback.extraction == "feed_content"
    assert fallback.fingerprint is None or fallback.fingerprint.text != fallback.text
