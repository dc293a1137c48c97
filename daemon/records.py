"""The records that flow between stages, named for what they are at that point.

    FeedSpec → FeedEntry → FetchedPage → Article → Verdict → ArticleEvent
      (poll)     (fetch)      (extract)    (dedup)   (encode)

All records are frozen, slotted dataclasses: cheap, hashable where it matters, and impossible to
mutate behind another stage's back.  Validation happens only where data enters or leaves the
daemon (settings, feed files, `ArticleEvent`), not here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from daemon.dedup.fingerprint import Fingerprint
    from daemon.stories.terms import LeadTerms

OriginKind = Literal["feed", "replay", "cli"]
VerdictKind = Literal["new", "duplicate", "updated"]

# Extraction status carried by every event (see `ArticleEvent.extraction`).  `paywalled` is no
# longer produced (v1.1 reports it as `access`) but stays in the contract: an enum never narrows.
ExtractionStatus = Literal[
    "ok", "feed_content", "empty", "paywalled", "blocked", "not_html", "too_large", "timeout"
]
# How far a page let newsd read it (see `ArticleEvent.access`).
Access = Literal["free", "paywalled", "registration"]
# The finest unit a publication time was stated in: `day` means only the date is known.
DatePrecision = Literal["day", "minute", "second"]


@dataclass(frozen=True, slots=True)
class FeedSource:
    """What the configuration says about a feed's publisher; travels with its entries."""

    publisher: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    language: str | None = None  # ISO 639-1
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One configured feed, immutable for the life of the process."""

    feed_id: str
    url: str
    publisher: str | None = None
    language: str | None = None
    country: str | None = None
    min_interval: float | None = None  # seconds; overrides poll.min_interval for this feed
    max_interval: float | None = None  # seconds; overrides poll.max_interval for this feed
    tags: tuple[
        str, ...
    ] = ()  # operator's categories (OPML `category`, `feeds add --tag`); source.tags

    def source(self) -> FeedSource | None:
        """The configured publisher facts, or None when the configuration gives none."""
        found = FeedSource(self.publisher, self.country, self.language, self.tags)
        return found if found != FeedSource() else None


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an entry came from: a polled feed, a replayed archive, or the command line."""

    kind: OriginKind
    id: str
    url: str | None = None
    source: FeedSource | None = None  # the configured publisher of a polled feed


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
class ArticleFields:
    """The descriptive fields of an article, defined once.

    What a page declares (`PageMeta`), what extraction found (`Extracted`), what the article
    carries (`Article`) and what the event publishes (`ArticleEvent`, one wire field per field
    here) all embed or copy this record whole.  Every field is None or empty when unknown.
    """

    title: str | None = None
    summary: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    published_at: datetime | None = None
    published_at_precision: DatePrecision | None = None  # set whenever published_at is
    modified_at: datetime | None = None
    site_name: str | None = None
    section: str | None = None
    article_type: str | None = None  # news, opinion, analysis, review, live, ... (declared)
    access: Access | None = None
    image: str | None = None
    tags: tuple[str, ...] = ()
    syndication: str | None = None  # wire agency credited on the page or in the feed

    def or_else(self, fallback: ArticleFields) -> ArticleFields:
        """These fields, each empty one taken from `fallback` (the better source goes first)."""
        missing = {
            f.name: getattr(fallback, f.name)
            for f in dataclasses.fields(self)
            if not getattr(self, f.name) and getattr(fallback, f.name)
        }
        return replace(self, **missing) if missing else self


def precision_of(when: datetime | None) -> DatePrecision | None:
    """The precision a bare datetime can claim: a time of exactly 00:00:00 is a date (`day`),
    zero seconds a `minute`, anything else a `second`.  For values parsed from text, prefer
    what the text stated (`extract.metadata.iso_precision`)."""
    if when is None:
        return None
    if (when.hour, when.minute, when.second, when.microsecond) == (0, 0, 0, 0):
        return "day"
    return "minute" if (when.second, when.microsecond) == (0, 0) else "second"


@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned article with its metadata, ready for deduplication."""

    entry: FeedEntry
    url: str
    canonical_url: str
    text: str
    fetched_at: datetime
    extraction: ExtractionStatus
    fields: ArticleFields = ArticleFields()
    # Dedup's fingerprint of `text`, when the extraction worker computed it (dedup/fingerprint.py)
    fingerprint: Fingerprint | None = field(default=None, compare=False, repr=False)
    # The story stage's costly part (stories/terms.py), when the worker computed it
    lead_terms: LeadTerms | None = field(default=None, compare=False, repr=False)


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
