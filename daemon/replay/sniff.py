"""Pure: is an archived body a feed, an article page, or neither?

Decided first by the declared content type, then, where the type is generic (XML, JSON, missing,
octet-stream) or contradicts the body, by the document's root: `<rss`, `<feed`, `<rdf:RDF` or a
JSON Feed `version` make a feed; `<html` or a doctype make a page.
"""

from __future__ import annotations

import re
from typing import Literal

Verdict = Literal["feed", "page", "sniff", "other"]

_FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/x-rss+xml",
        "application/x-atom+xml",
        "text/rss+xml",
        "text/atom+xml",
    }
)
_PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_SNIFF_TYPES = frozenset(
    {
        "",
        "text/xml",
        "application/xml",
        "application/json",
        "text/json",
        "application/octet-stream",
        "unk",
        "no-type",
        "text/plain",
    }
)
_XML_PROLOG = re.compile(
    rb"^(\s|<\?[^>]*\?>|<!--.*?-->|<!DOCTYPE\s+(rss|feed)[^>]*>)*", re.S | re.I
)
_FEED_ROOT = re.compile(rb"^<(rss|feed|rdf:RDF|RDF)[\s>]", re.I)
_PAGE_ROOT = re.compile(rb"^(<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])", re.I)
_JSON_FEED = re.compile(rb'"version"\s*:\s*"https?://jsonfeed\.org/version/', re.I)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def media_type(content_type: str | None) -> str:
    """The lower-cased media type of a Content-Type value, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def by_content_type(content_type: str | None) -> Verdict:
    """What the declared type alone says; `sniff` means the body must decide."""
    kind = media_type(content_type)
    if kind in _FEED_TYPES:
        return "feed"
    if kind in _PAGE_TYPES:
        return "page"
    if kind in _SNIFF_TYPES or kind.endswith(("+xml", "/xml")):
        return "sniff"
    return "other"


def by_body(body: bytes) -> Verdict:
    """What the first kilobytes of a body say: `feed`, `page` or `other`."""
    head = body[:4096]
    for bom in _BOMS:
        head = head.removeprefix(bom)
    if _JSON_FEED.search(head):
        return "feed"
    prolog = _XML_PROLOG.match(head)
    start = head[prolog.end() :] if prolog else head
    if _FEED_ROOT.match(start):
        return "feed"
    if _PAGE_ROOT.match(start):
        return "page"
    return "other"


def classify(content_type: str | None, body: bytes) -> Verdict:
    """`feed`, `page` or `other` for one archived body and its declared content type.

    A declared HTML type whose body is really a feed root (servers send RSS as text/html)
    counts as a feed; everything else follows the declared type when it is specific.
    """
    declared = by_content_type(content_type)
    if declared == "other":
        return "other"
    sniffed = by_body(body)
    if declared == "page":
        return "feed" if sniffed == "feed" else "page"
    if declared == "feed":
        return "feed"
    return sniffed
