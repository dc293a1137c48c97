"""The fastfeedparser fast path: it answers only where its result equals feedparser's."""

from __future__ import annotations

import pytest

from daemon.records import Origin
from daemon.sources import fastfeed
from daemon.sources.feedparse import ParsedFeed, parse_feed
from tests.conftest import CORPORA, FEED_CORPORA, corpus_files
from tests.sources.conftest import FIXTURES

ORIGIN = Origin(kind="feed", id="test", url="https://news.example/feed")
FEED_URL = "https://news.example/feeds/main.xml"
pytestmark = pytest.mark.skipif(not fastfeed.AVAILABLE, reason="fastfeedparser not installed")


def fast(body: bytes, content_type: str = "", **headers: str) -> ParsedFeed | None:
    return fastfeed.parse_fast(
        body, url=FEED_URL, ctype=content_type, origin=ORIGIN, headers=headers
    )


def slow(body: bytes, content_type: str = "") -> ParsedFeed:
    return parse_feed(body, url=FEED_URL, content_type=content_type, origin=ORIGIN, fast=False)


def rss(items: str, channel: str = "", decl: str = "utf-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{decl}"?><rss version="2.0"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'
        ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Example</title><link>https://news.example/</link>{channel}{items}"
        "</channel></rss>"
    ).encode()


PLAIN_ITEM = (
    "<item><title>One</title><link>https://news.example/1</link>"
    "<guid isPermaLink='false'>n-1</guid><pubDate>Mon, 05 Jan 2026 10:00:00 GMT</pubDate>"
    "<description>Plain text.</description><dc:creator>Ann</dc:creator></item>"
)


TAKEN = {
    "plain items with hints": rss(
        PLAIN_ITEM * 3,
        "<ttl>30</ttl><language>en-gb</language>"
        "<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>",
    ),
    "relative links in HTML": rss(
        "<item><title>T &amp; &lt;b&gt;bold&lt;/b&gt;</title><link>/a?x=1&amp;y=2</link>"
        "<guid>/a</guid><description>&lt;a href='/rel'&gt;r&lt;/a&gt; &amp;"
        "<![CDATA[ <img src=pic.jpg> ]]></description>"
        "<content:encoded><![CDATA[<p>Body <br> text</p>]]></content:encoded></item>"
    ),
    "content only": rss(
        "<item><link>https://news.example/2</link>"
        "<content:encoded>&lt;p&gt;Only body&lt;/p&gt;</content:encoded></item>"
    ),
    "non-ASCII UTF-8 and C1 controls": rss(
        "<item><title>Caf\u00e9 \u0093quoted\u0094</title>"
        "<link>https://news.example/\u00e9</link><author>Zo\u00eb</author></item>"
    ),
}


@pytest.mark.parametrize("body", TAKEN.values(), ids=TAKEN.keys())
def test_fast_path_equals_feedparser_on_plain_rss(body: bytes) -> None:
    """Plain RSS 2.0 takes the fast path and yields exactly feedparser's ParsedFeed."""
    quick = fast(body)
    assert quick is not None
    assert quick == slow(body)
    assert parse_feed(body, url=FEED_URL, content_type="", origin=ORIGIN) == quick


def test_fast_path_answers_a_real_news_feed_like_feedparser() -> None:
    """The BBC fixture (102 items) takes the fast path with feedparser's exact result."""
    body = (FIXTURES / "rss20_bbc_europe_2015.xml").read_bytes()
    quick = fast(body, "application/rss+xml")
    assert quick is not None and len(quick.entries) == 102
    assert quick == slow(body, "application/rss+xml")


DECLINED = {
    "atom": ((FIXTURES / "atom_small.xml").read_bytes(), "", {}),
    "rdf": ((FIXTURES / "rdf_bio.rdf").read_bytes(), "", {}),
    "declared windows-1251": ((FIXTURES / "rss_windows1251.xml").read_bytes(), "", {}),
    "charset header not utf-8": (
        rss(PLAIN_ITEM),
        "application/rss+xml",
        {"Content-Type": "application/rss+xml; charset=iso-8859-1"},
    ),
    "text/xml without charset, non-ASCII": (
        rss("<item><title>Caf\u00e9</title><link>https://x.example/</link></item>"),
        "text/xml",
        {},
    ),
    "malformed XML": (rss(PLAIN_ITEM.replace("Plain text.", "A & B")), "", {}),
    "unbound namespace prefix": (rss(PLAIN_ITEM.replace("dc:creator", "zz:creator")), "", {}),
    "markup inside description": (
        rss(PLAIN_ITEM.replace("Plain text.", "<b>raw</b>")),
        "",
        {},
    ),
    "two authors in one item": (
        rss(PLAIN_ITEM.replace("</item>", "<author>Bob</author></item>")),
        "",
        {},
    ),
    "date fastfeedparser reads differently": (
        rss(PLAIN_ITEM.replace("Mon, 05 Jan 2026 10:00:00 GMT", "Mon, 05 Jan 2026 10:00 EST")),
        "",
        {},
    ),
    "GUIDs mixing permalink kinds": (
        rss(PLAIN_ITEM + PLAIN_ITEM.replace(" isPermaLink='false'", "")),
        "",
        {},
    ),
    "itunes summary filed as content": (
        rss(PLAIN_ITEM.replace("</item>", "<itunes:summary>s</itunes:summary></item>")),
        "",
        {},
    ),
}


@pytest.mark.parametrize(("body", "ctype", "headers"), DECLINED.values(), ids=DECLINED.keys())
def test_fast_path_declines_what_it_cannot_match(
    body: bytes, ctype: str, headers: dict[str, str]
) -> None:
    """Documents outside the verified shapes return None, and parse_feed uses feedparser."""
    assert fast(body, ctype, **headers) is None


def test_malformed_feed_keeps_its_flag_through_the_fallback() -> None:
    """A broken feed declined by the fast path is still parsed, flagged malformed."""
    body = rss(PLAIN_ITEM.replace("Plain text.", "A & B"))
    parsed = parse_feed(body, url=FEED_URL, content_type="", origin=ORIGIN)
    assert parsed.malformed and len(parsed.entries) == 1


def test_without_fastfeedparser_parse_feed_still_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    """With fastfeedparser absent, the fast path declines everything and feedparser parses."""
    monkeypatch.setattr(fastfeed, "fastfeedparser", None)
    body = TAKEN["plain items with hints"]
    assert fast(body) is None
    assert parse_feed(body, url=FEED_URL, content_type="", origin=ORIGIN).entries


@pytest.mark.corpus
@pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora is not present")
def test_fast_path_equals_feedparser_on_every_corpus_file_it_answers() -> None:
    """On every corpus file where the fast path answers, its ParsedFeed equals feedparser's."""
    taken, differing = 0, []
    for path in corpus_files(CORPORA, FEED_CORPORA):
        body = path.read_bytes()
        quick = fast(body)
        if quick is None:
            continue
        taken += 1
        if quick != slow(body):
            differing.append(path.name)
    assert differing == []
    assert taken >= 150


AUTHOR_FORMS = {
    "email (Name)": "<author>desk@example.com (AP)</author>",
    "Name (email)": "<author>AP (desk@example.com)</author>",
    "Name <email>": "<author>Ann Lee &lt;ann@example.com&gt;</author>",
    "email <Name>": "<author>ann@example.com &lt;Ann&gt;</author>",
    "email only": "<author>desk@example.com</author>",
    "email ()": "<author>desk@example.com ()</author>",
    "mailto": "<author>mailto:ann@example.com</author>",
    "email with subject": "<author>ann@example.com?subject=hi (Ann)</author>",
    "name only": "<author>Ann Lee</author>",
    "By name": "<author>By Ann Lee</author>",
    "name with agency": "<author>Ann Lee (Reuters)</author>",
    "spaced": "<author>  desk@example.com   ( The AP )  </author>",
    "empty": "<author></author>",
    "blank": "<author>   </author>",
    "html": "<author>&lt;b&gt;Ann&lt;/b&gt;</author>",
    "cdata": "<author><![CDATA[Ann Lee <ann@example.com>]]></author>",
    "non-ASCII": "<author>Zo\u00eb L\u00f3pez (zoe@example.com)</author>",
    "dc:creator email (Name)": "<dc:creator>desk@example.com (AP)</dc:creator>",
    "dc:creator name": "<dc:creator>Ann Lee</dc:creator>",
    "itunes:author email (Name)": "<itunes:author>ann@example.com (Ann Lee)</itunes:author>",
}


@pytest.mark.parametrize("element", AUTHOR_FORMS.values(), ids=AUTHOR_FORMS.keys())
def test_fast_path_gives_feedparsers_authors_for_every_author_form(element: str) -> None:
    """Every RSS author form gives the same entry on both paths (`desk@example.com (AP)` is
    `AP` on both), so an event never depends on which parser read its feed."""
    body = rss(f"<item><title>x</title><link>https://news.example/1</link>{element}</item>")
    quick = fast(body)
    assert quick is not None
    assert quick == slow(body)


def test_an_rss_author_with_an_address_gives_the_name() -> None:
    """The issue's case: `desk@example.com (AP)` is the author `AP` on the fast path."""
    body = rss(
        AUTHOR_FORMS["email (Name)"].join(["<item><link>https://news.example/1</link>", "</item>"])
    )
    quick = fast(body)
    assert quick is not None and quick.entries[0].authors == ("AP",)
