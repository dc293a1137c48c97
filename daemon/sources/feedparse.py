"""Feed bodies → `ParsedFeed`: RSS 0.9x/1.0/2.0, Atom, RDF (feedparser) and JSON Feed (ours).

Pure: no I/O.  `parse_feed` either returns entries or raises `FeedError` with a counted reason:

    not_a_feed    an HTML page (or other document) served where a feed was expected
    unparseable   a body that claims to be a feed but yields nothing usable

Broken XML that still yields entries is returned with `malformed=True` (counted by the caller),
because a feed with one stray `&` is still a feed worth reading; broken XML that yields no entry
is `unparseable`.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from daemon.errors import FeedError
from daemon.records import FeedEntry, Origin
from daemon.sources import fastfeed
from daemon.sources.fastfeed import parse_fast
from daemon.sources.feedvalues import ParsedFeed as ParsedFeed  # re-exported: the result type
from daemon.sources.feedvalues import is_web_url as _is_web_url
from daemon.sources.feedvalues import minutes as _minutes
from daemon.sources.feedvalues import sy_period as _sy_period
from daemon.sources.feedvalues import text as _text

_JSON_TYPES = frozenset({"application/feed+json", "application/json", "text/json"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_FEED_ROOT = re.compile(rb"<(?:[a-z0-9_-]+:)?(?:rss|feed|rdf)\b", re.IGNORECASE)
_HTML_ROOT = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_SNIFF_BYTES = 4096
# The fastfeedparser fast path (measured in bench/feed_parse.py); off when it is not installed.
FAST_PATH = fastfeed.AVAILABLE
_HEADER_COMPLAINTS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str,
    origin: Origin,
    headers: Mapping[str, str] | None = None,
    fast: bool | None = None,
) -> ParsedFeed:
    """Parse one fetched feed body; `url` is the feed URL relative links resolve against.

    `fast` (default: the module's `FAST_PATH`) tries fastfeedparser first; it answers only where
    its result equals feedparser's (`daemon.sources.fastfeed`), and feedparser parses the rest.

    Raises `FeedError("not_a_feed")` for HTML (by content type and by sniffing the body) and
    `FeedError("unparseable")` for a body that yields neither a feed format nor entries.
    """
    ctype = content_type.split(";")[0].strip().lower()
    head = body[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise FeedError("not_a_feed", "empty body")
    if head[:1] in (b"{", b"[") or (ctype in _JSON_TYPES and not head.startswith(b"<")):
        return parse_json_feed(body, url=url, origin=origin)
    if _looks_like_html(head, ctype):
        raise FeedError("not_a_feed", f"HTML document ({ctype or 'no content type'})")
    if FAST_PATH if fast is None else fast:
        quick = parse_fast(body, url=url, ctype=ctype, origin=origin, headers=headers or {})
        if quick is not None:
            return quick
    return _parse_xml(body, url=url, ctype=ctype, origin=origin, headers=headers or {})


def _looks_like_html(head: bytes, ctype: str) -> bool:
    if _FEED_ROOT.search(head):
        # A feed root near the top wins over a wrong content type (feeds served as text/html).
        return bool(_HTML_ROOT.match(head)) and ctype in _HTML_TYPES
    return ctype in _HTML_TYPES or bool(_HTML_ROOT.match(head))


def _parse_xml(
    body: bytes, *, url: str, ctype: str, origin: Origin, headers: Mapping[str, str]
) -> ParsedFeed:
    response_headers = {k.lower(): v for k, v in headers.items()}
    response_headers["content-location"] = url
    if "xml" not in ctype:
        # Sniffed as XML already: let the XML declaration name the encoding (RFC 7303 §3.2).
        response_headers["content-type"] = "application/xml"
    elif "content-type" not in response_headers:
        response_headers["content-type"] = ctype
    try:
        parsed = feedparser.parse(body, response_headers=response_headers, sanitize_html=False)
    except Exception as exc:  # feedparser's own bugs on hostile input: a body, not a crash
        raise FeedError("unparseable", f"{type(exc).__name__}: {exc}") from exc
    return _from_feedparser(parsed, url=url, origin=origin)


def _from_feedparser(parsed: Any, *, url: str, origin: Origin) -> ParsedFeed:
    version = str(parsed.get("version") or "")
    raw_entries = parsed.get("entries") or []
    if not version and not raw_entries:
        reason = "unparseable" if parsed.get("bozo") else "not_a_feed"
        raise FeedError(reason, str(parsed.get("bozo_exception") or "no feed element"))
    feed = parsed.get("feed") or {}
    language = _text(feed.get("language"))
    entries, skipped = _entries(raw_entries, url=url, origin=origin, language=language)
    if not entries and _is_malformed(parsed):
        # Broken XML that yields no entry is not an empty feed: an error, with backoff.
        raise FeedError("unparseable", str(parsed.get("bozo_exception")))
    return ParsedFeed(
        entries=entries,
        title=_text(feed.get("title")),
        link=_text(feed.get("link")),
        ttl=_minutes(feed.get("ttl")),
        sy_update_period=_sy_period(feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")),
        malformed=_is_malformed(parsed),
        format=version or "unknown",
        skipped_entries=skipped,
        language=language,
    )


def _is_malformed(parsed: Any) -> bool:
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    # Encoding and content-type complaints are about the headers, not a broken document.
    return exc is not None and not isinstance(exc, _HEADER_COMPLAINTS)


def _entries(
    raw: list[Any], *, url: str, origin: Origin, language: str | None
) -> tuple[list[FeedEntry], int]:
    entries: list[FeedEntry] = []
    for item in raw:
        entry = _entry(item, url=url, origin=origin, language=language)
        if entry is not None:
            entries.append(entry)
    return entries, len(raw) - len(entries)


def _entry(item: Any, *, url: str, origin: Origin, language: str | None) -> FeedEntry | None:
    guid = _text(item.get("id"))
    link = _entry_link(item, guid)
    if link is None:
        return None
    content = item.get("content") or []
    return FeedEntry(
        origin=origin,
        url=urljoin(url, link),
        guid=guid,
        title=_text(item.get("title")),
        published_at=_struct_time(item.get("published_parsed") or item.get("created_parsed")),
        updated_at=_struct_time(item.get("updated_parsed")),
        summary=_text(item.get("summary")),
        content=_text(content[0].get("value")) if content else None,
        authors=_authors(item),
        language=language,
    )


def _entry_link(item: Any, guid: str | None) -> str | None:
    link = _text(item.get("link"))
    if link is None:
        for candidate in item.get("links") or []:
            if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
                link = _text(candidate.get("href"))
                break
    if link is None and guid is not None and _is_web_url(guid):
        link = guid  # an RSS <guid> permalink (isPermaLink defaults to true)
    return link


def _authors(item: Any) -> tuple[str, ...]:
    names = [_text(a.get("name")) for a in item.get("authors") or [] if hasattr(a, "get")]
    found = tuple(n for n in names if n)
    if found:
        return found
    single = _text(item.get("author"))
    return (single,) if single else ()


# ---------------------------------------------------------------- JSON Feed 1.0 / 1.1


def parse_json_feed(body: bytes, *, url: str, origin: Origin) -> ParsedFeed:
    """Parse a JSON Feed (https://jsonfeed.org/version/1.1, also 1.0)."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedError("unparseable", f"JSON: {exc}") from exc
    if not isinstance(doc, dict) or "jsonfeed.org/version" not in str(doc.get("version", "")):
        raise FeedError("not_a_feed", "JSON document without a jsonfeed.org version")
    wrong: list[str] = []  # keys whose value had the wrong type: dropped and counted
    language = _json_text(doc, "language", wrong)
    items = doc.get("items")
    items = items if isinstance(items, list) else []
    authors = _json_authors(doc, wrong)  # the feed's, for items without their own
    feed = (origin, language, authors)
    entries = [e for i in items if (e := _json_entry(i, url, feed, wrong))]
    return ParsedFeed(
        entries=entries,
        title=_json_text(doc, "title", wrong),
        link=_json_text(doc, "home_page_url", wrong),
        malformed=not isinstance(doc.get("items"), list),
        format="json" + str(doc.get("version", "")).rsplit("/", 1)[-1],
        skipped_entries=len(items) - len(entries),
        language=language,
        invalid_values=len(wrong),
    )


def _json_entry(
    item: Any, url: str, feed: tuple[Origin, str | None, tuple[str, ...]], wrong: list[str]
) -> FeedEntry | None:
    origin, language, feed_authors = feed
    if not isinstance(item, dict):
        return None
    # The spec has readers coerce a numeric id to a string; every other value must be a string.
    guid = _text(item.get("id")) if isinstance(item.get("id"), (str, int)) else None
    link = _json_text(item, "url", wrong) or _json_text(item, "external_url", wrong)
    if link is None and guid is not None and _is_web_url(guid):
        link = guid
    if link is None:
        return None
    return FeedEntry(
        origin=origin,
        url=urljoin(url, link),
        guid=guid,
        title=_json_text(item, "title", wrong),
        published_at=_iso_date(item.get("date_published")),
        updated_at=_iso_date(item.get("date_modified")),
        summary=_json_text(item, "summary", wrong),
        content=_json_text(item, "content_html", wrong) or _json_text(item, "content_text", wrong),
        authors=_json_authors(item, wrong) or feed_authors,
        language=_json_text(item, "language", wrong) or language,
    )


def _json_text(obj: dict[str, Any], key: str, wrong: list[str]) -> str | None:
    """A string member (stripped, None when blank); any other type is recorded in `wrong`
    and dropped, never turned into text (`"url": 1.2` is no link, `"title": 1000` no title)."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        wrong.append(key)
        return None
    return _text(value)


def _json_authors(obj: dict[str, Any], wrong: list[str]) -> tuple[str, ...]:
    raw = obj.get("authors")
    people = raw if isinstance(raw, list) else [obj.get("author")]  # 1.1 list, 1.0 object
    names = (_json_text(p, "name", wrong) for p in people if isinstance(p, dict))
    return tuple(n for n in names if n)


# ---------------------------------------------------------------- small converters


def _struct_time(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _iso_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
