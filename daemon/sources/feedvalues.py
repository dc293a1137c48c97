"""Values shared by both feed parsing paths: the `ParsedFeed` record and small converters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from daemon.records import FeedEntry

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
