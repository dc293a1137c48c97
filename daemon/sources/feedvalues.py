"""Values shared by both feed parsing paths: the `ParsedFeed` record and small converters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from daemon.records import FeedEntry

# feedparser's e-mail pattern for RSS author elements (mixin._sync_author_detail), verbatim.
_AUTHOR_EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)
_SY_PERIOD = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0}
_SY_PERIOD |= {"monthly": 2_592_000.0, "yearly": 31_536_000.0}


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What one feed body yielded: its entries (document order) and the server's hints."""

    entries: list[FeedEntry]
    title: str | None = None
    link: str | None = None
    ttl: float | None = None  # seconds (RSS <ttl> is in minutes)
    sy_update_period: float | None = None  # seconds between updates (sy:updatePeriod/Frequency)
    malformed: bool = False  # the XML was broken but entries were still recovered
    format: str = ""  # feedparser's version string ("rss20", "atom10", ...) or "json1"
    skipped_entries: int = 0  # entries without any usable URL
    invalid_values: int = 0  # values of the wrong type, dropped (JSON Feed: a number as a title)
    language: str | None = None


def text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def minutes(value: Any) -> float | None:
    try:
        minutes = float(str(value).strip())
    except ValueError:
        return None
    return minutes * 60.0 if 0 < minutes < 1e7 else None


def sy_period(period: Any, frequency: Any) -> float | None:
    seconds = _SY_PERIOD.get(str(period or "").strip().lower())
    if seconds is None:
        return None
    try:
        times = int(str(frequency).strip()) if frequency is not None else 1
    except ValueError:
        times = 1
    return seconds / max(times, 1)


def author_name(raw: str) -> str:
    """The name in an RSS author value, as feedparser derives it: `desk@example.com (AP)`,
    `AP <desk@example.com>` → `AP`; a bare e-mail address stays as it is.

    Both parsing paths give the same authors this way (feedparser's `_sync_author_detail`,
    step for step), so an event never depends on which parser read its feed.
    """
    found = _AUTHOR_EMAIL.search(raw)
    if not found:
        return raw
    name = raw.replace(found.group(0), "")
    for empty in ("()", "<>", "&lt;&gt;"):
        name = name.replace(empty, "")
    name = name.strip()
    name = name[1:] if name.startswith("(") else name
    name = name[:-1] if name.endswith(")") else name
    return name.strip() or raw
