"""The fast path of `parse_feed`: fastfeedparser, mapped to what the feedparser path yields.

`parse_fast` returns the very `ParsedFeed` the feedparser path would return, or None, and then
the caller parses with feedparser.  It only answers for documents whose shape was checked to give
identical results on the feed corpora (`tests/sources/test_fastfeed.py` asserts it file by file):

- RSS 2.0, well-formed by expat's namespace-aware rules (feedparser's strict parser is expat),
  UTF-8 without a conflicting charset, no DOCTYPE and no xml:base or xml:lang;
- one fastfeedparser entry per `<item>` in the body, and feed-level hints (`<ttl>`,
  `<sy:updatePeriod>`, `<language>`) written plainly, once, outside the items;
- per item, the parts fastfeedparser folds together kept apart: GUIDs either all permalinks or
  all `isPermaLink="false"`, a `<description>` before any `<content:encoded>`, one plain
  RFC 822 `<pubDate>` and no other date element.

Every value then goes through the same post-processing feedparser applies (URI resolution,
relative links in HTML, its mojibake and cp1252 repairs), using feedparser's own functions.
"""

from __future__ import annotations

import contextlib
import pyexpat
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, resolve_relative_uris

from daemon.records import FeedEntry, Origin
from daemon.sources import feedvalues as fv

try:
    import fastfeedparser
except ImportError:  # optional: without it every feed takes the feedparser path
    fastfeedparser = None

AVAILABLE = fastfeedparser is not None

_RSS20_ROOT = re.compile(rb"<rss\s[^>]*\bversion\s*=\s*[\"']2\.0[\"']")
_ITEM_OPEN = re.compile(rb"<item[\s>/]")
_ITEM_CLOSE = rb"</item>"
_DECL_ENCODING = re.compile(rb"^<\?xml[^>]*\bencoding\s*=\s*[\"']([^\"']+)", re.I)
_UNSUPPORTED = (b"<!DOCTYPE", b"xml:base", b"xml:lang", b"<![CDATA[]]>")
_GUID_OPEN = re.compile(rb"<guid[\s>/]")
_GUID_NOT_PERMALINK = re.compile(rb"<guid\s+isPermaLink\s*=\s*[\"']false[\"']\s*>")
# Everything feedparser files under summary or content; only the first two are mapped.
_DESCRIPTION_OR_CONTENT = re.compile(
    rb"<((?:[\w.-]+:)?(?:description|encoded|summary|content|body|fullitem|abstract))[\s>/]"
)
_ALTERNATE_LINK = re.compile(rb"<[\w.-]+:link\s[^>]*rel\s*=\s*[\"']alternate")
_DATE_TAG = re.compile(
    rb"<(?:[\w.-]+:)?(?:pubDate|date|published|updated|modified|issued|created|lastBuildDate)"
    rb"[\s>/]"
)
_PUBDATE = re.compile(rb"<pubDate>([^<]*)</pubDate>")
# RFC 822 as RSS 2.0 writes it, with a numeric zone or GMT/UT/Z: both parsers agree on these.
_RFC822 = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} "
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d{2}:\d{2}:\d{2} (?:[+-]\d{4}|GMT|UTC?|Z)"
)
_HEADER_TAGS = {
    "ttl": re.compile(rb"<ttl[\s>/]"),
    "sy_updateperiod": re.compile(rb"<[\w.-]+:updatePeriod[\s>/]"),
    "sy_updatefrequency": re.compile(rb"<[\w.-]+:updateFrequency[\s>/]"),
    "language": re.compile(rb"<(?:[\w.-]+:)?language[\s>/]"),
}
_HEADER_PLAIN = {
    "ttl": re.compile(rb"<ttl>\s*([\w.-]*)\s*</ttl>"),
    "sy_updateperiod": re.compile(rb"<sy:updatePeriod>\s*(\w*)\s*</sy:updatePeriod>"),
    "sy_updatefrequency": re.compile(rb"<sy:updateFrequency>\s*(\w*)\s*</sy:updateFrequency>"),
    "language": re.compile(rb"<language>\s*([\w-]*)\s*</language>"),
}
# Elements whose text fastfeedparser reads as lxml's `.text`: they must hold no child elements.
_TEXT_ELEMENTS = (
    *("title", "link", "guid", "description", "content:encoded", "pubDate"),
    *("author", "dc:creator", "itunes:author"),
)
_OPENING = {tag: re.compile(rb"<%s[\s>/]" % tag.encode()) for tag in _TEXT_ELEMENTS}
_TEXT_ONLY = {
    tag: re.compile(
        rb"<%s(?:\s[^>]*)?>(?:[^<]|<!\[CDATA\[.*?\]\]>)*</%s>" % (tag.encode(), tag.encode()), re.S
    )
    for tag in _TEXT_ELEMENTS
}
_ITEM_OR_AUTHOR = re.compile(
    rb"<(item|author|dc:creator|itunes:author|[\w.-]+:(?:author|creator))[\s>/]"
)
_AUTHOR_TAGS = frozenset({b"author", b"dc:creator", b"itunes:author"})
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
# feedparser maps the C1 controls to the characters cp1252 puts there (feedparser.html._cp1252).
_CP1252 = {
    c: bytes([c]).decode("cp1252") for c in range(128, 160) if c not in (129, 141, 143, 144, 157)
}


class _DeclinedError(Exception):  # never escapes parse_fast
    """This document is outside the shapes the fast path answers for."""


def parse_fast(
    body: bytes, *, url: str, ctype: str, origin: Origin, headers: Mapping[str, str]
) -> fv.ParsedFeed | None:
    """The feedparser path's `ParsedFeed` for `body`, or None when it cannot promise the same."""
    if fastfeedparser is None:
        return None
    try:
        _check_document(body, ctype, headers)
        parsed = fastfeedparser.parse(
            body, include_tags=False, include_media=False, include_enclosures=False
        )
        return _mapped(parsed, body, url=url, origin=origin)
    except _DeclinedError:
        return None
    except Exception:  # fastfeedparser rejecting a document is a reason to fall back, not fail
        return None


# ---------------------------------------------------------------- document guards


def _check_document(body: bytes, ctype: str, headers: Mapping[str, str]) -> None:
    head = body[:1024]
    if not _RSS20_ROOT.search(head) or any(marker in body for marker in _UNSUPPORTED):
        raise _DeclinedError
    declared = _DECL_ENCODING.match(head.lstrip())
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise _DeclinedError
    if not _charset_is_utf8(ctype, headers) or body.startswith(b"\xef\xbb\xbf"):
        raise _DeclinedError
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise _DeclinedError from None
    _check_well_formed(body)
    _check_text_only(body)


def _check_text_only(body: bytes) -> None:
    for tag in _TEXT_ELEMENTS:
        if len(_OPENING[tag].findall(body)) != len(_TEXT_ONLY[tag].findall(body)):
            raise _DeclinedError


def _charset_is_utf8(ctype: str, headers: Mapping[str, str]) -> bool:
    """Whether feedparser, given the headers `_parse_xml` hands it, decodes the body as UTF-8."""
    if "xml" not in ctype:
        return True  # feedparser is told application/xml: the XML declaration decides
    given = next((v for k, v in headers.items() if k.lower() == "content-type"), ctype).lower()
    if "charset=" in given:
        return given.split("charset=", 1)[1].split(";")[0].strip(" \"'") in ("utf-8", "utf8")
    # Without a charset, RFC 3023 reads text/xml as US-ASCII: feedparser re-decodes the body.
    return not given.strip().startswith("text/")


def _check_well_formed(body: bytes) -> None:
    parser = pyexpat.ParserCreate(namespace_separator=" ")
    try:
        parser.Parse(body, True)
    except pyexpat.ExpatError:
        raise _DeclinedError from None


# ---------------------------------------------------------------- mapping


def _mapped(parsed: Any, body: bytes, *, url: str, origin: Origin) -> fv.ParsedFeed:
    raw_entries = parsed.get("entries") or []
    items = _ITEM_OPEN.findall(body)
    if not raw_entries or len(raw_entries) != len(items):
        raise _DeclinedError
    first, last = body.find(b"<item"), body.rfind(_ITEM_CLOSE)
    inside = body[first:last]
    outside = body[:first] + body[last:]
    hints = _header_hints(body, outside)
    if _ALTERNATE_LINK.search(outside) or b":link" in inside:
        raise _DeclinedError  # fastfeedparser prefers Atom links, feedparser the RSS <link>
    permalink = _guids_are_permalinks(inside, len(items))
    summaries = _summary_layout(inside, len(items))
    dates = _pub_dates(inside, len(items))
    _check_authors(inside)
    feed = parsed.get("feed") or {}
    language = hints.get("language")
    entries = []
    for index, item in enumerate(raw_entries):
        entry = _entry(
            item,
            url=url,
            origin=origin,
            language=language,
            permalink=permalink,
            summary_from_content=summaries,
            published=dates[index],
        )
        if entry is not None:
            entries.append(entry)
    return fv.ParsedFeed(
        entries=entries,
        title=fv.text(_fp_text(feed.get("title"), url)),
        link=fv.text(_fp_link(feed.get("link"), url)),
        ttl=fv.minutes(hints.get("ttl")),
        sy_update_period=fv.sy_period(
            hints.get("sy_updateperiod"), hints.get("sy_updatefrequency")
        ),
        malformed=False,
        format="rss20",
        skipped_entries=len(raw_entries) - len(entries),
        language=language,
    )


def _header_hints(body: bytes, outside: bytes) -> dict[str, str]:
    hints: dict[str, str] = {}
    for key, tag in _HEADER_TAGS.items():
        count = len(tag.findall(body))
        if count == 0:
            continue
        plain = _HEADER_PLAIN[key].findall(outside)
        if count != 1 or len(plain) != 1:
            raise _DeclinedError
        value = plain[0].decode("ascii", "replace")
        if value:
            hints[key] = value
    return hints


def _guids_are_permalinks(inside: bytes, items: int) -> bool | None:
    guids = len(_GUID_OPEN.findall(inside))
    not_permalink = len(_GUID_NOT_PERMALINK.findall(inside))
    if guids == 0:
        return None
    if guids != items or not_permalink not in (0, items):
        raise _DeclinedError
    return not_permalink == 0


def _summary_layout(inside: bytes, items: int) -> bool:
    """True when items carry only content:encoded (the summary is then a copy of it)."""
    tags = _DESCRIPTION_OR_CONTENT.findall(inside)
    if not tags or tags == [b"description"] * items:
        return False
    if tags == [b"description", b"content:encoded"] * items:
        return False
    if tags == [b"content:encoded"] * items:
        return True
    raise _DeclinedError


def _pub_dates(inside: bytes, items: int) -> list[datetime | None]:
    if not _DATE_TAG.search(inside):
        return [None] * items
    raw = _PUBDATE.findall(inside)
    if len(raw) != items or len(_DATE_TAG.findall(inside)) != items:
        raise _DeclinedError
    return [_rfc822(value.decode("utf-8").strip()) for value in raw]


def _check_authors(inside: bytes) -> None:
    """At most one author element per item: fastfeedparser keeps only the first of several."""
    count = 0
    for match in _ITEM_OR_AUTHOR.finditer(inside):
        tag = match.group(1)
        if tag == b"item":
            count = 0
        elif tag not in _AUTHOR_TAGS or count:
            raise _DeclinedError
        else:
            count = 1


def _rfc822(value: str) -> datetime:
    if not _RFC822.fullmatch(value):
        raise _DeclinedError
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        raise _DeclinedError from None


def _entry(
    item: Any,
    *,
    url: str,
    origin: Origin,
    language: str | None,
    permalink: bool | None,
    summary_from_content: bool,
    published: datetime | None,
) -> FeedEntry | None:
    guid = _guid(item, permalink, url)
    link = fv.text(_fp_link(item.get("link"), url)) if item.get("link") else None
    if link is None and permalink and guid is not None and fv.is_web_url(guid):
        link = guid
    if link is None:
        return None
    content = _content(item, url, summary_from_content)
    return FeedEntry(
        origin=origin,
        url=urljoin(url, link),
        guid=guid,
        title=fv.text(_fp_text(item.get("title"), url, plain=True)),
        published_at=published,
        updated_at=published,  # feedparser's `updated_parsed` falls back to the published date
        summary=content if summary_from_content else _summary(item, url),
        content=content,
        authors=_authors(item),
        language=language,
    )


def _guid(item: Any, permalink: bool | None, url: str) -> str | None:
    if permalink is None:
        return None
    value = str(item.get("id") or "").strip()
    if not value:
        raise _DeclinedError  # an empty <guid/>: fastfeedparser substitutes the link
    return fv.text(_fp_fixups(_urljoin(url, value) if permalink else value))


def _summary(item: Any, url: str) -> str | None:
    if not item.get("description"):
        return None
    return fv.text(_fp_text(item["description"], url))


def _content(item: Any, url: str, summary_from_content: bool) -> str | None:
    content = item.get("content") or []
    if not content:
        return None
    value = str(content[0].get("value") or "")
    if not summary_from_content and value.strip() == str(item.get("description") or ""):
        return None  # fastfeedparser's copy of <description>, not a content element
    return fv.text(_fp_text(value, url))


def _authors(item: Any) -> tuple[str, ...]:
    author = fv.text(item.get("author"))
    return (fv.author_name(_fp_fixups(author)),) if author else ()


# ---------------------------------------------------------------- feedparser's post-processing


def _fp_text(value: Any, base: str, *, plain: bool = False) -> str | None:
    """`value` as feedparser stores an RSS text element (strip, guess HTML, resolve, repair)."""
    if value is None:
        return None
    text = str(value).strip()
    if plain and not _looks_like_html(text):
        return _fp_fixups(text)
    if "<" in text or "&" in text or ">" in text:
        text = resolve_relative_uris(text, base, "utf-8", "text/html")
    return _fp_fixups(text)


def _looks_like_html(text: str) -> bool:
    return bool(_FeedParserMixin.looks_like_html(text))


def _fp_link(value: Any, base: str) -> str | None:
    if value is None:
        return None
    link = _urljoin(base, str(value).strip())
    link = _LINK_ENTITY.sub(r"&\g<1>", link.replace("&amp;", "&"))
    return _fp_fixups(link)


def _fp_fixups(text: str) -> str:
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        # feedparser's repair of UTF-8 read as Latin-1 (it applies it to every value)
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_CP1252)
