"""The feed list: `FeedSpec`s from the config file's `[[feeds]]` and from OPML imports.

A feed's id defaults to a deterministic function of its canonical URL, so the same URL gets the
same id (and the same durable state) on every machine and after every restart.  Duplicates (same
id, or same canonical URL) inside the config file are a `ConfigError` naming both entries; an
imported feed that duplicates a configured one is dropped (the config file wins).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from daemon.dedup.keys import canonical_url
from daemon.errors import ConfigError
from daemon.records import FeedSpec
from daemon.settings import FeedConfig

_SLUG = re.compile(r"[^a-z0-9]+")
FEED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # what `--id` and OPML `newsdId` accept


def feed_id_for(url: str) -> str:
    """`<host slug>-<10 hex of sha256(canonical URL)>`, e.g. `example-com-3fa9c2d1e0`."""
    canonical = canonical_url(url)
    host = _SLUG.sub("-", (urlsplit(canonical).hostname or "feed").removeprefix("www.")).strip("-")
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10]
    return f"{host[:40]}-{digest}"


def spec_from_config(feed: FeedConfig) -> FeedSpec:
    return FeedSpec(
        feed_id=feed.id or feed_id_for(feed.url),
        url=feed.url,
        publisher=feed.publisher,
        language=feed.language,
        country=feed.country,
        min_interval=feed.min_interval,
        max_interval=feed.max_interval,
        tags=tuple(feed.tags),
    )


def specs_from_config(feeds: Sequence[FeedConfig]) -> list[FeedSpec]:
    """The configured feeds as specs; raises `ConfigError` on a duplicate id or URL."""
    specs = [spec_from_config(f) for f in feeds]
    by_id: dict[str, int] = {}
    by_url: dict[str, int] = {}
    for index, spec in enumerate(specs):
        _reject_duplicate(by_url, canonical_url(spec.url), index, "url")
        _reject_duplicate(by_id, spec.feed_id, index, "id")
    return specs


def _reject_duplicate(seen: dict[str, int], key: str, index: int, what: str) -> None:
    if key in seen:
        raise ConfigError(
            f"feeds[{index}].{what}",
            f"feeds[{index}] duplicates feeds[{seen[key]}] (same {what}: {key})",
        )
    seen[key] = index


def merge_feeds(configured: Sequence[FeedSpec], imported: Sequence[FeedSpec]) -> list[FeedSpec]:
    """Configured feeds, then imported ones that duplicate none of them (by id or URL)."""
    ids = {s.feed_id for s in configured}
    urls = {canonical_url(s.url) for s in configured}
    extra = [s for s in imported if s.feed_id not in ids and canonical_url(s.url) not in urls]
    return [*configured, *extra]


@dataclass(frozen=True, slots=True)
class FeedListing:
    """One row of `newsd feeds list`."""

    feed_id: str
    url: str
    source: str  # "config", "cli" or "opml"
    publisher: str | None
    state: str = "active"  # "active", "paused" or "retired"
    tags: tuple[str, ...] = ()
    retired: bool = False
    error_streak: int = 0
    next_poll_at: float | None = None  # UNIX seconds, like the times below
    last_success_at: float | None = None
    last_new_item_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
