"""Feed documents built in tests (import as `tests.sources.feeds`)."""

from __future__ import annotations

from collections.abc import Sequence

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


def rss(items: Sequence[str | tuple[str, str]], *, ttl: int | None = None) -> bytes:
    """An RSS 2.0 feed; each item is a GUID, or (GUID, updated date in RFC 822 form)."""
    parts = []
    for item in items:
        guid, updated = (item, None) if isinstance(item, str) else item
        date = f"<atom:updated>{updated}</atom:updated>" if updated else ""
        parts.append(
            f"<item><title>{guid}</title><link>https://news.example/{guid}</link>"
            f"<guid isPermaLink='false'>{guid}</guid>{date}</item>"
        )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>Example</title><link>https://news.example/</link>{ttl_tag}"
        f"{''.join(parts)}</channel></rss>"
    ).encode()
