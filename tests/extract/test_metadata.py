"""Declared page metadata: JSON-LD in its many shapes, OpenGraph and meta tags, dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import lxml.html
import pytest

from daemon.extract.metadata import page_metadata, parse_date_iso, wall_marker


def _page(ld: object | None = None, head: str = "") -> str:
    script = f'<script type="application/ld+json">{json.dumps(ld)}</script>' if ld else ""
    return f"<html lang='en-GB'><head>{head}{script}</head><body><p>x</p></body></html>"


ARTICLE = {
    "@type": "NewsArticle",
    "headline": "Declared headline",
    "datePublished": "2024-05-01T10:00:00+02:00",
    "dateModified": "2024-05-01T12:00:00Z",
    "author": [{"@type": "Person", "name": "By Ann Lee"}, {"name": "Reuters"}],
    "publisher": {"@type": "Organization", "name": "Example Times"},
    "keywords": "politics, europe",
    "isAccessibleForFree": "False",
    "articleBody": "Body text.",
}


@pytest.mark.parametrize(
    "ld",
    [
        pytest.param(ARTICLE, id="object"),
        pytest.param([{"@type": "WebPage"}, ARTICLE], id="list"),
        pytest.param({"@context": "https://schema.org", "@graph": [ARTICLE]}, id="graph"),
        pytest.param({**ARTICLE, "@type": "ReportageNewsArticle"}, id="reportage"),
        pytest.param({**ARTICLE, "@type": ["Article", "NewsArticle"]}, id="type-list"),
    ],
)
def test_json_ld_article_shapes(ld: object) -> None:
    """An article object is found in lists and @graph, typed by any article subtype."""
    meta = page_metadata(_page(ld))
    assert meta.fields.title == "Declared headline"
    assert meta.fields.authors == ("Ann Lee",)  # "By" stripped, the agency moved out
    assert meta.agencies == ("Reuters",)
    assert meta.fields.published_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert meta.fields.modified_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert meta.fields.site_name == "Example Times"
    assert meta.fields.tags == ("politics", "europe")
    assert meta.not_free is True
    assert meta.article_body == "Body text."


def test_open_graph_and_meta_tags_fill_in_without_json_ld() -> None:
    """Without JSON-LD, OpenGraph and article:* meta tags are used."""
    head = (
        '<meta property="og:title" content="OG title">'
        '<meta property="og:site_name" content="Site">'
        '<meta property="og:image" content="https://img.example/a.jpg">'
        '<meta property="article:published_time" content="2023-01-02T03:04:05-0500">'
        '<meta property="article:tag" content="one"><meta property="article:tag" content="two">'
        '<meta name="author" content="Jo Smith">'
        '<link rel="canonical" href="https://example.com/a">'
    )
    meta = page_metadata(_page(head=head))
    assert meta.fields.title == "OG title"
    assert meta.fields.site_name == "Site"
    assert meta.fields.image == "https://img.example/a.jpg"
    assert meta.fields.published_at == datetime(
        2023, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))
    )
    assert meta.fields.tags == ("one", "two")
    assert meta.fields.authors == ("Jo Smith",)
    assert meta.canonical == "https://example.com/a"
    assert meta.fields.language == "en"
    assert meta.not_free is False


def test_broken_json_ld_is_ignored() -> None:
    """Malformed JSON-LD does not raise; the page simply declares nothing there."""
    html = "<html><head><script type='application/ld+json'>{oops</script></head></html>"
    assert page_metadata(html).fields.title is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02", datetime(2024, 1, 2, tzinfo=UTC)),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("not a date", None),
        (None, None),
    ],
)
def test_iso_dates_are_always_aware(value: object, expected: datetime | None) -> None:
    """Declared dates parse to aware datetimes; zone-less ones are UTC."""
    assert parse_date_iso(value) == expected


PART = {"@type": "WebPageElement", "cssSelector": ".paywall"}


@pytest.mark.parametrize(
    ("ld", "expected"),
    [
        pytest.param({"isAccessibleForFree": False}, True, id="json-false"),
        pytest.param({"isAccessibleForFree": "False"}, True, id="string-False"),
        pytest.param({"isAccessibleForFree": "false"}, True, id="string-false"),
        pytest.param({"isAccessibleForFree": "https://schema.org/False"}, True, id="url-False"),
        pytest.param({"isAccessibleForFree": True}, False, id="json-true"),
        pytest.param({"isAccessibleForFree": "True"}, False, id="string-True"),
        pytest.param({}, False, id="absent"),
        pytest.param(
            {"isAccessibleForFree": True, "hasPart": {**PART, "isAccessibleForFree": False}},
            True,
            id="on-a-part",
        ),
        pytest.param(
            {"hasPart": [{"@type": "WebPageElement"}, {**PART, "isAccessibleForFree": "False"}]},
            True,
            id="on-one-of-the-parts",
        ),
        pytest.param({"hasPart": {**PART, "isAccessibleForFree": True}}, False, id="free-part"),
    ],
)
def test_is_accessible_for_free_forms(ld: dict[str, object], expected: bool) -> None:
    """isAccessibleForFree is read in each Boolean spelling, on the article or on a part."""
    meta = page_metadata(_page({"@type": "NewsArticle", "headline": "H", **ld}))
    assert meta.not_free is expected


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ('<div class="article-body paywall-article">x</div>', "paywalled"),
        ('<section class="o-paywall">x</section>', "paywalled"),
        ('<div class="regwall-overlay">x</div>', "registration"),
        ('<div class="article-body">x</div>', None),
        ('<span class="paywall">x</span>', None),  # inline elements are not containers
    ],
)
def test_wall_container_marker(block: str, expected: str | None) -> None:
    """A block whose class names a pay or registration wall sets the marker; others do not."""
    html = f"<html><head><title>t</title></head><body>{block}<p>text</p></body></html>"
    assert wall_marker(lxml.html.fromstring(html)) == expected


@pytest.mark.parametrize(
    ("declared", "precision"),
    [
        ("2024-05-01", "day"),
        ("2024-05-01T08:00+02:00", "minute"),
        ("2024-05-01T08:00:31Z", "second"),
    ],
)
def test_publication_precision_is_what_the_page_stated(declared: str, precision: str) -> None:
    """A date-only `datePublished` is day precision (midnight UTC), a time gives minute or
    second: consumers can tell a date from a time of 00:00."""
    meta = page_metadata(
        _page({"@type": "NewsArticle", "headline": "H", "datePublished": declared})
    )
    assert meta.fields.published_at_precision == precision
    assert meta.fields.published_at is not None


def test_article_type_and_section_are_read_from_json_ld() -> None:
    """An OpinionNewsArticle is `opinion` and its articleSection the section; a plain
    NewsArticle is `news`, a LiveBlogPosting `live`."""
    ld = {"@type": "OpinionNewsArticle", "headline": "H", "articleSection": "Comment"}
    meta = page_metadata(_page(ld))
    assert (meta.fields.article_type, meta.fields.section) == ("opinion", "Comment")
    news = page_metadata(_page({"@type": ["NewsArticle"], "headline": "H"}))
    live = page_metadata(_page({"@type": "LiveBlogPosting", "headline": "H"}))
    assert (news.fields.article_type, live.fields.article_type) == ("news", "live")
