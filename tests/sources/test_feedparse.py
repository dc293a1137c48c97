"""parse_feed: formats, HTML detection, malformed feeds, links, dates, and the real corpora."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from daemon.errors import FeedError
from daemon.records import Origin
from daemon.sources.feedparse import ParsedFeed, parse_feed
from tests.conftest import CORPORA, FEED_CORPORA, corpus_files
from tests.sources.conftest import FIXTURES

ORIGIN = Origin(kind="feed", id="test", url="https://news.example/feed")
FEED_URL = "https://news.example/feeds/main.xml"


def parse(body: bytes, content_type: str = "application/rss+xml") -> ParsedFeed:
    return parse_feed(body, url=FEED_URL, content_type=content_type, origin=ORIGIN)


@pytest.mark.parametrize(
    ("name", "content_type", "fmt", "min_entries"),
    [
        ("rss20_bbc_europe_2015.xml", "application/rss+xml", "rss20", 40),
        ("rdf_bio.rdf", "application/rdf+xml", "rss10", 10),
        ("atom_small.xml", "application/atom+xml", "atom10", 5),
        ("rss_windows1251.xml", "text/xml", "rss20", 5),
        ("jsonfeed_inessential.json", "application/json", "json1", 10),
    ],
)
def test_real_feeds_of_every_format_yield_entries(
    name: str, content_type: str, fmt: str, min_entries: int
) -> None:
    """RSS 2.0, RDF, Atom, a non-UTF-8 RSS and a JSON Feed all give entries with absolute URLs."""
    feed = parse((FIXTURES / name).read_bytes(), content_type)
    assert feed.format == fmt
    assert len(feed.entries) >= min_entries
    assert all(e.url.startswith(("http://", "https://")) for e in feed.entries)
    assert all(e.origin == ORIGIN for e in feed.entries)
    assert not feed.malformed


def test_declared_charset_is_decoded() -> None:
    """A windows-1251 feed comes out as proper Cyrillic text."""
    feed = parse((FIXTURES / "rss_windows1251.xml").read_bytes(), "text/xml")
    assert feed.entries[0].title is not None and "Цитата" in feed.entries[0].title
    assert feed.language == "ru"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html", (FIXTURES / "html_page_not_a_feed.html").read_bytes()),
        ("", (FIXTURES / "html_page_not_a_feed.html").read_bytes()),
        ("application/rss+xml", b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></html>"),
        ("text/html", b"<html><head><title>Error</title></head><body>oops</body></html>"),
        ("application/json", b'{"error": "not found"}'),
        ("application/xml", b"<?xml version='1.0'?><note><to>x</to></note>"),
        ("application/rss+xml", b"   "),
    ],
    ids=["html-page", "html-no-type", "error-page-typed-rss", "html-error", "json", "xml", "empty"],
)
def test_documents_that_are_not_feeds_raise_not_a_feed(content_type: str, body: bytes) -> None:
    """An HTML page (by type or by sniffing) or a non-feed document is `not_a_feed`, not 0 items."""
    with pytest.raises(FeedError) as caught:
        parse(body, content_type)
    assert caught.value.reason == "not_a_feed"


def test_feed_served_as_text_html_is_still_a_feed() -> None:
    """A real feed with a wrong `text/html` content type is parsed (the body decides)."""
    feed = parse((FIXTURES / "rss20_bbc_europe_2015.xml").read_bytes(), "text/html")
    assert len(feed.entries) > 10


def test_broken_xml_with_entries_is_processed_and_marked_malformed() -> None:
    """An unescaped `&` breaks the XML, but the entries are recovered and flagged malformed."""
    body = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>Tom & Jerry</title>"
        b"<item><title>One & two</title><link>https://news.example/1</link></item>"
        b"<item><title>Three</title><link>https://news.example/3</link></item></channel></rss>"
    )
    feed = parse(body)
    assert feed.malformed
    assert [e.url for e in feed.entries] == ["https://news.example/1", "https://news.example/3"]


def test_links_guid_permalinks_and_relative_urls() -> None:
    """No <link> but a permalink GUID → the GUID; relative links resolve against the feed URL."""
    body = (
        b"<rss version='2.0'><channel><title>t</title>"
        b"<item><guid>https://news.example/permalink</guid></item>"
        b"<item><link>/relative/story</link><guid isPermaLink='false'>id-2</guid></item>"
        b"<item><title>no link, opaque guid</title><guid isPermaLink='false'>x</guid></item>"
        b"</channel></rss>"
    )
    feed = parse(body)
    assert [e.url for e in feed.entries] == [
        "https://news.example/permalink",
        "https://news.example/relative/story",
    ]
    assert feed.entries[1].guid == "id-2"
    assert feed.skipped_entries == 1


def test_dates_are_timezone_aware_utc_and_hints_are_seconds() -> None:
    """pubDate becomes an aware datetime; <ttl> minutes and sy:updatePeriod become seconds."""
    body = (
        b"<rss version='2.0' xmlns:sy='http://purl.org/rss/1.0/modules/syndication/'><channel>"
        b"<title>t</title><ttl>90</ttl><sy:updatePeriod>daily</sy:updatePeriod>"
        b"<sy:updateFrequency>4</sy:updateFrequency>"
        b"<item><link>https://news.example/a</link><author>a@news.example (Ann)</author>"
        b"<pubDate>Tue, 10 Jun 2025 09:30:00 +0200</pubDate></item></channel></rss>"
    )
    feed = parse(body)
    assert feed.entries[0].published_at == datetime(2025, 6, 10, 7, 30, tzinfo=UTC)
    assert feed.ttl == 90 * 60
    assert feed.sy_update_period == 86400 / 4
    assert feed.entries[0].authors


def test_json_feed_1_1_fields() -> None:
    """JSON Feed: ids, url/external_url, RFC 3339 dates, authors (1.1 list and 1.0 object)."""
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "home_page_url": "https://news.example/",
        "language": "de",
        "authors": [{"name": "Feed Author"}],
        "items": [
            {
                "id": "1",
                "url": "/one",
                "title": "One",
                "content_html": "<p>x</p>",
                "date_published": "2025-01-02T03:04:05Z",
                "date_modified": "2025-01-03T00:00:00+01:00",
                "author": {"name": "Old Style"},
            },
            {"id": 2, "external_url": "https://elsewhere.example/two", "content_text": "t"},
            {"id": "3", "content_text": "no url at all"},
            "not an object",
        ],
    }
    feed = parse(json.dumps(doc).encode(), "application/feed+json")
    one, two = feed.entries
    assert (one.url, one.guid, one.content) == ("https://news.example/one", "1", "<p>x</p>")
    assert one.published_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert one.updated_at == datetime(2025, 1, 2, 23, 0, tzinfo=UTC)
    assert one.authors == ("Old Style",)  # an item's own (1.0) author wins over the feed's
    assert two.authors == ("Feed Author",)  # otherwise the feed's (1.1) authors apply
    assert (two.url, two.guid, two.language) == ("https://elsewhere.example/two", "2", "de")
    assert feed.skipped_entries == 2


def test_json_feed_values_of_the_wrong_type_are_dropped_and_counted() -> None:
    """A number where JSON Feed wants a string is no value: `"url": 1.2` gives no link (the
    item is skipped, not sent to `https://.../1.2`), `"title": 1000` no title; each is counted."""
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": 7,
        "items": [
            {"id": "1", "url": 1.2, "title": "Bad link"},
            {"id": "2", "url": "/two", "title": 1000, "summary": ["x"], "content_text": "ok"},
            {"id": "3", "url": "/three", "authors": [{"name": 5}, {"name": "Ann"}]},
        ],
    }
    feed = parse(json.dumps(doc).encode(), "application/feed+json")
    two, three = feed.entries
    assert feed.title is None and feed.skipped_entries == 1
    assert (two.url, two.title, two.summary) == ("https://news.example/two", None, None)
    assert three.authors == ("Ann",)
    assert feed.invalid_values == 5  # feed title, url, title, summary, one author name


@pytest.mark.corpus
@pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora is not present")
def test_every_corpus_file_parses_or_raises_feed_error() -> None:
    """Every file of the six feed corpora goes through parse_feed without an unhandled error.
    (Its speed is measured by bench/feed_parse.py; the suite's timeout catches a hang.)"""
    files = corpus_files(CORPORA, FEED_CORPORA)
    assert len(files) > 1500
    outcomes = {"ok": 0, "feed_error": 0}
    for path in files:
        try:
            parse_feed(path.read_bytes(), url=FEED_URL, content_type="", origin=ORIGIN)
            outcomes["ok"] += 1
        except FeedError:
            outcomes["feed_error"] += 1
    # feedparser's ~90 deliberately broken fragments without items (entities/, illformed/)
    # are errors since broken XML with no entry counts as unparseable, not as an empty feed.
    assert outcomes["ok"] > 1400


@pytest.mark.parametrize("fast", [True, False])
def test_broken_xml_without_entries_is_unparseable(fast: bool) -> None:
    """A truncated XML feed with no usable item is an error, not an empty feed."""
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>a'
    with pytest.raises(FeedError) as caught:
        parse_feed(body, url=FEED_URL, content_type="application/rss+xml", origin=ORIGIN, fast=fast)
    assert caught.value.reason == "unparseable"
