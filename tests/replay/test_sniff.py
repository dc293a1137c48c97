"""Feed / page / other decisions for archived bodies."""

from __future__ import annotations

import pytest

from daemon.replay import sniff

CASES = {
    "rss by type": ("application/rss+xml", b"<rss>", "feed"),
    "atom by root under text/xml": (
        "text/xml; charset=utf-8",
        b'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
        "feed",
    ),
    "rdf root with comment": (
        "application/xml",
        b"<?xml version='1.0'?><!-- hi --><rdf:RDF xmlns:rdf='x'>",
        "feed",
    ),
    "rss served as text/html": ("text/html", b"\xef\xbb\xbf  <rss version='2.0'>", "feed"),
    "json feed": (
        "application/json",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
        "feed",
    ),
    "plain json": ("application/json", b'{"a": 1}', "other"),
    "html page": ("text/html; charset=utf-8", b"<p>no root</p>", "page"),
    "html without type": ("", b"<!DOCTYPE html><html>", "page"),
    "image": ("image/png", b"<rss>", "other"),
    "javascript": ("application/javascript", b"var x", "other"),
    "robots.txt": ("text/plain", b"User-agent: *", "other"),
}


@pytest.mark.parametrize(("content_type", "body", "expected"), CASES.values(), ids=CASES.keys())
def test_classify(content_type: str, body: bytes, expected: str) -> None:
    """Declared types decide when specific; generic or contradicted ones are sniffed."""
    assert sniff.classify(content_type, body) == expected
