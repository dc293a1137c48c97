"""The records that flow between stages, named for what they are at that point.

    FeedSpec → FeedEntry → FetchedPage → Article → Verdict → ArticleEvent
      (poll)     (fetch)      (extract)    (dedup)   (encode)

All records are frozen, slotted dataclasses: cheap, hashable where it matters, and impossible to
mutate behind another stage's back.  Validation happens only where data enters or leaves the
daemon (settings, feed files, `ArticleEvent`), not here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

OriginKind = Literal["feed", "replay", "cli"]
VerdictKind = Literal["new", "duplicate", "updated"]

# Extraction status carried by every event (see `ArticleEvent.extraction`).
ExtractionStatus = Literal[
    "ok", "feed_content", "empty", "paywalled", "blocked", "not_html", "too_large", "timeout"
]


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One configured feed, immutable for the life of the process."""

    feed_id: str
    url: str
    publisher: str | None = None
    language: str | None = None
    min_interval: float | None = None  # seconds; overrides poll.min_interval for this feed
    max_interval: float | None = None  # seconds; overrides poll.max_interval for this feed


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an entry came from: a polled feed, a replayed archive, or the command line."""

    kind: OriginKind
    id: str
    url: str | None = None


Settle = Callable[["FeedEntry", bool], Awaitable[None]]
"""Called once per entry when it leaves the pipeline, with `done`:

- True: nothing is left to redo. Its event was acknowledged by the broker (on the articles,
  duplicates, updates or errors topic), or it was dropped on purpose (`Skip`, e.g. unchanged).
- False: it did not make it (the broker refused, shutdown cut it off); the source must offer it
  again (a later poll re-emits it).

Sources use it to move their own state forward (seen keys, feed cursors) only when True."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item from a feed (or one replayed page), before its page is fetched."""

    origin: Origin
    url: str
    guid: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    summary: str | None = None  # the feed's description/summary (HTML or text)
    content: str | None = None  # the feed's full content (content:encoded, atom:content)
    authors: tuple[str, ...] = ()
    language: str | None = None  # the feed's declared language, if any
    is_update: bool = False  # GUID known but its `updated` time changed
    settle: Settle | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """Exactly what a fetch produced: the body, or the reason there is none."""

    entry: FeedEntry
    final_url: str
    status: int
    content_type: str
    body: bytes
    fetched_at: datetime
    failure: ExtractionStatus | None = None  # set when no usable body was fetched
    is_text_capture: bool = False  # a plain-text page capture (like seeds/*.txt), not HTML


@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned article with its metadata, ready for deduplication."""

    entry: FeedEntry
    url: str
    canonical_url: str
    title: str | None
    text: str
    fetched_at: datetime
    extraction: ExtractionStatus
    summary: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    published_at: datetime | None = None
    modified_at: datetime | None = None
    site_name: str | None = None
    image: str | None = None
    tags: tuple[str, ...] = ()
    syndication: str | None = None  # wire agency credited on the page or in the feed


@dataclass(frozen=True, slots=True)
class Verdict:
    """What deduplication decided about one article."""

    kind: VerdictKind
    cluster_id: str
    duplicate_of: str | None = None
    similarity: float | None = None
    cluster_size: int = 1
    revision: int = 1
    previous_similarity: float | None = None  # for updates: similarity to the previous revision
    syndication: str | None = None  # the cluster's wire agency, if known
    event_id: str | None = None  # the article's own event id (dedup hashed the text once)
    content_hash: str | None = None  # `keys.content_hash` of the article's text
