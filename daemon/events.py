"""The wire contract: `ArticleEvent` (v1.1) and `ErrorEvent` (v1).

These are the only types serialised to Kafka, so the contract is validated at the edge.  The JSON
Schemas generated from them are checked in under `schemas/` (`make schemas` regenerates them; a
test fails when they are stale).  Compatible additions (new optional fields) keep major version 1
and the published schemas accept unknown properties; removing or retyping a field, or narrowing
an enum, is v2, published to new topics (`daemon/schemacompat.py` enforces it against the last
released schema in `schemas/released/`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from daemon import __version__
from daemon.dedup.keys import content_hash, event_id
from daemon.fetch.hosts import domain_of
from daemon.records import (
    Access,
    Article,
    ArticleFields,
    DatePrecision,
    ExtractionStatus,
    FeedEntry,
    OriginKind,
    Verdict,
)

SCHEMA_VERSION: Literal[1] = 1
EventType = Literal["article.new", "article.duplicate", "article.updated"]
_TYPES: dict[str, EventType] = {
    "new": "article.new",
    "duplicate": "article.duplicate",
    "updated": "article.updated",
}


# The published schemas accept unknown properties: consumers must ignore what they do not know,
# so a validating consumer keeps working across compatible additions.
_OPEN: dict[str, JsonValue] = {"additionalProperties": True}
# `$id` of each published schema; the CloudEvents `ce_dataschema` header carries the same value.
ARTICLE_SCHEMA_ID = "urn:newsd:schema:article-event.v1"
ERROR_SCHEMA_ID = "urn:newsd:schema:error-event.v1"
STORY_SCHEMA_ID = "urn:newsd:schema:story-event.v1"


class Source(BaseModel):
    """Where the article came from: a feed (id and URL), a replay run, or the command line."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_OPEN)
    kind: OriginKind = Field(description="feed, replay or cli.")
    id: str = Field(description="Feed id, or the replay source (archive path).")
    url: str | None = Field(None, description="Feed URL, when the source is a feed.")


class Publisher(BaseModel):
    """The configured publisher of the feed (from the feed list), when configured."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_OPEN)
    publisher: str | None = Field(None, description="Publisher name, as configured.")
    country: str | None = Field(None, description="ISO 3166-1 alpha-2 country code.")
    language: str | None = Field(None, description="The feed's configured language (ISO 639-1).")
    tags: list[str] = Field(default_factory=list, description="The feed's configured tags.")


class ArticleEvent(BaseModel):
    """One article as downstream consumers receive it (schema v1.1)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", title="ArticleEvent", json_schema_extra=_OPEN
    )

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Contract version.")
    event_id: str = Field(description="UUIDv5 of canonical_url and content_hash: stable.")
    type: EventType = Field(description="new original, duplicate (repost) or updated revision.")
    url: str = Field(description="The page URL that was fetched (after redirects).")
    canonical_url: str = Field(description="Normalized canonical URL (the page's own if given).")
    feed: Source = Field(description="The feed or replay source the item came from.")
    guid: str | None = Field(None, description="The feed item's GUID, if any.")
    site_name: str | None = Field(None, description="Publisher / site name.")
    title: str | None = Field(None, description="Headline.")
    text: str = Field(description="Cleaned article body, paragraphs separated by a blank line.")
    text_truncated: bool = Field(
        False, description="The text was cut after a paragraph to fit the broker's message limit."
    )
    text_original_length: int | None = Field(
        None, ge=0, description="When truncated: characters in the full text."
    )
    summary: str | None = Field(None, description="Description or feed summary, cleaned.")
    authors: list[str] = Field(default_factory=list, description="Bylines, as written.")
    language: str | None = Field(None, description="ISO 639-1 code, detected or declared.")
    published_at: AwareDatetime | None = Field(None, description="Publication time.")
    published_at_precision: DatePrecision | None = Field(
        None, description="v1.1: day (date only, time 00:00 UTC), minute or second."
    )
    modified_at: AwareDatetime | None = Field(None, description="Last modification time.")
    fetched_at: AwareDatetime = Field(description="When newsd fetched the page.")
    image: str | None = Field(None, description="Top image URL.")
    tags: list[str] = Field(default_factory=list, description="Keywords / tags of the page.")
    section: str | None = Field(
        None, description="v1.1: section (JSON-LD articleSection, article:section or the URL's)."
    )
    article_type: str | None = Field(
        None, description="v1.1: news, opinion, analysis, review, live, blog, ... as declared."
    )
    access: Access | None = Field(
        None, description="v1.1: free, paywalled (text is a teaser) or registration."
    )
    domain: str | None = Field(None, description="v1.1: registrable domain of canonical_url.")
    source: Publisher | None = Field(None, description="v1.1: the feed's configured publisher.")
    word_count: int = Field(0, ge=0, description="v1.1: words in text.")
    content_hash: str = Field(
        description="sha256 of the normalized full text (before any truncation), `sha256:<hex>`."
    )
    cluster_id: str = Field(description="Event id of the cluster's original; the message key.")
    duplicate_of: str | None = Field(None, description="For duplicates: the original's event id.")
    similarity: float | None = Field(
        None, ge=0, le=1, description="For duplicates: similarity to the original."
    )
    cluster_size: int = Field(1, ge=1, description="Copies in the cluster so far, this included.")
    story_id: str | None = Field(
        None, description="Event id of the story's first article (same event, other reports)."
    )
    story_size: int | None = Field(
        None, ge=1, description="Articles in the story so far, reposts and this one included."
    )
    revision: int = Field(1, ge=1, description="For updates: the revision number (first is 1).")
    syndication: str | None = Field(None, description="Wire agency credited (EFE, AP, ...).")
    extraction: ExtractionStatus = Field(description="How the text was obtained.")
    producer: str = Field(f"newsd/{__version__}", description="The software that made it.")


class ErrorEvent(BaseModel):
    """An item that failed for good, on the errors topic (schema v1)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", title="ErrorEvent", json_schema_extra=_OPEN
    )

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Contract version.")
    event_id: str = Field(description="UUIDv5 of the URL and the reason.")
    type: Literal["article.failed"] = "article.failed"
    url: str = Field(description="The item's URL.")
    feed: Source = Field(description="The feed or replay source the item came from.")
    stage: str = Field(description="The stage that gave up (fetch, extract, dedup, publish).")
    reason: str = Field(description="Machine-readable reason, as counted in metrics.")
    detail: str = Field("", description="Human-readable detail.")
    failed_at: AwareDatetime = Field(description="When it failed.")


class StoryEvent(BaseModel):
    """The latest summary of one story, on the compacted stories topic keyed by `story_id`."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", title="StoryEvent", json_schema_extra=_OPEN
    )

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Contract version.")
    type: Literal["story.updated"] = "story.updated"
    story_id: str = Field(description="Event id of the story's first article; the message key.")
    headline: str | None = Field(None, description="Headline of the story's first article.")
    article_count: int = Field(ge=1, description="Articles in the story so far, reposts included.")
    outlets: list[str] = Field(description="Outlets (site names or hosts), in order of arrival.")
    languages: list[str] = Field(description="Languages of its articles, in order of arrival.")
    first_seen: AwareDatetime = Field(description="Time of its earliest article.")
    last_seen: AwareDatetime = Field(description="Time of its latest article.")
    producer: str = Field(f"newsd/{__version__}", description="The software that made it.")


def source_of(entry: FeedEntry) -> Source:
    return Source(kind=entry.origin.kind, id=entry.origin.id, url=entry.origin.url)


def article_event(article: Article, verdict: Verdict) -> ArticleEvent:
    """Build the event for an article and the dedup verdict about it."""
    text_hash = verdict.content_hash or content_hash(article.text)
    fields = replace(article.fields, syndication=verdict.syndication or article.fields.syndication)
    return ArticleEvent(
        **_field_values(fields),
        event_id=verdict.event_id or event_id(article.canonical_url, text_hash),
        type=_TYPES[verdict.kind],
        url=article.url,
        canonical_url=article.canonical_url,
        feed=source_of(article.entry),
        guid=article.entry.guid,
        text=article.text,
        fetched_at=article.fetched_at,
        content_hash=text_hash,
        cluster_id=verdict.cluster_id,
        duplicate_of=verdict.duplicate_of,
        similarity=verdict.similarity,
        cluster_size=verdict.cluster_size,
        revision=verdict.revision,
        extraction=article.extraction,
        domain=domain_of(article.canonical_url) or None,
        source=_publisher(article.entry),
        word_count=len(article.text.split()),
    )


def _publisher(entry: FeedEntry) -> Publisher | None:
    found = entry.origin.source
    if found is None:
        return None
    return Publisher(
        publisher=found.publisher,
        country=found.country,
        language=found.language,
        tags=list(found.tags),
    )


def _field_values(fields: ArticleFields) -> dict[str, Any]:
    """The article fields as event fields: one wire field per `ArticleFields` field."""
    return {f.name: getattr(fields, f.name) for f in dataclasses.fields(fields)}


def error_event(
    entry: FeedEntry, stage: str, reason: str, detail: str = "", *, now: datetime | None = None
) -> ErrorEvent:
    return ErrorEvent(
        event_id=event_id(entry.url, f"error:{stage}:{reason}"),
        url=entry.url,
        feed=source_of(entry),
        stage=stage,
        reason=reason,
        detail=detail[:2000],
        failed_at=now or datetime.now(UTC),
    )


def cloudevent_headers(
    event: ArticleEvent | ErrorEvent, *, time: datetime, extra: dict[str, str] | None = None
) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 Kafka binary-mode headers for `event`."""
    headers = {
        "ce_specversion": "1.0",
        "ce_id": event.event_id,
        "ce_source": ce_source(event.feed),
        "ce_type": f"io.newsd.{event.type}.v{event.schema_version}",
        "ce_time": time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "ce_dataschema": schema_id(event),
        "content-type": "application/json",
        **(extra or {}),
    }
    return [(key, value.encode("utf-8")) for key, value in headers.items()]


def ce_source(feed: Source) -> str:
    """`/newsd/<kind>/<id>`, the id percent-encoded: a URI-reference whatever the id holds."""
    return f"/newsd/{feed.kind}/{quote(feed.id, safe='')}"


def schema_id(event: ArticleEvent | ErrorEvent) -> str:
    """The `$id` of the event's published schema (the `ce_dataschema` header)."""
    return ARTICLE_SCHEMA_ID if isinstance(event, ArticleEvent) else ERROR_SCHEMA_ID


def story_headers(event: StoryEvent, *, time: datetime) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 Kafka binary-mode headers for a story summary."""
    headers = {
        "ce_specversion": "1.0",
        "ce_id": f"{event.story_id}:{event.article_count}",
        "ce_source": "/newsd/stories",
        "ce_type": f"io.newsd.{event.type}.v{event.schema_version}",
        "ce_time": time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "ce_dataschema": STORY_SCHEMA_ID,
        "content-type": "application/json",
    }
    return [(key, value.encode("utf-8")) for key, value in headers.items()]
