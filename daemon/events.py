"""The wire contract: `ArticleEvent` (v1) and `ErrorEvent` (v1).

These are the only types serialised to Kafka, so the contract is validated at the edge.  The JSON
Schemas generated from them are checked in under `schemas/` (`make schemas` regenerates them; a
test fails when they are stale).  Compatible additions (new optional fields) keep v1; removing or
retyping a field is v2, published to new topics.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from daemon import __version__
from daemon.dedup.keys import content_hash, event_id
from daemon.records import Article, ExtractionStatus, FeedEntry, OriginKind, Verdict

SCHEMA_VERSION: Literal[1] = 1
EventType = Literal["article.new", "article.duplicate", "article.updated"]
_TYPES: dict[str, EventType] = {
    "new": "article.new",
    "duplicate": "article.duplicate",
    "updated": "article.updated",
}


class Source(BaseModel):
    """Where the article came from: a feed (id and URL), a replay run, or the command line."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: OriginKind = Field(description="feed, replay or cli.")
    id: str = Field(description="Feed id, or the replay source (archive path).")
    url: str | None = Field(None, description="Feed URL, when the source is a feed.")


class ArticleEvent(BaseModel):
    """One article as downstream consumers receive it (schema v1)."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="ArticleEvent")

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Contract version.")
    event_id: str = Field(description="UUIDv5 of canonical_url and content_hash: stable.")
    type: EventType = Field(description="new original, duplicate (repost) or updated revision.")
    url: str = Field(description="The page URL that was fetched (after redirects).")
    canonical_url: str = Field(description="Normalized canonical URL (the page's own if given).")
    feed: Source = Field(description="The feed or replay source the item came from.")
    guid: str | None = Field(None, description="The feed item's GUID, if any.")
    site_name: str | None = Field(None, description="Publisher / site name.")
    title: str | None = Field(None, description="Headline.")
    text: str = Field(description="Cleaned article body, paragraphs separated by blank lines.")
    summary: str | None = Field(None, description="Description or feed summary, cleaned.")
    authors: list[str] = Field(default_factory=list, description="Bylines, as written.")
    language: str | None = Field(None, description="ISO 639-1 code, detected or declared.")
    published_at: AwareDatetime | None = Field(None, description="Publication time.")
    modified_at: AwareDatetime | None = Field(None, description="Last modification time.")
    fetched_at: AwareDatetime = Field(description="When newsd fetched the page.")
    image: str | None = Field(None, description="Top image URL.")
    tags: list[str] = Field(default_factory=list, description="Keywords / tags of the page.")
    content_hash: str = Field(description="sha256 of the normalized text, `sha256:<hex>`.")
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

    model_config = ConfigDict(frozen=True, extra="forbid", title="ErrorEvent")

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

    model_config = ConfigDict(frozen=True, extra="forbid", title="StoryEvent")

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
    text_hash = content_hash(article.text)
    return ArticleEvent(
        event_id=event_id(article.canonical_url, text_hash),
        type=_TYPES[verdict.kind],
        url=article.url,
        canonical_url=article.canonical_url,
        feed=source_of(article.entry),
        guid=article.entry.guid,
        site_name=article.site_name,
        title=article.title,
        text=article.text,
        summary=article.summary,
        authors=list(article.authors),
        language=article.language,
        published_at=article.published_at,
        modified_at=article.modified_at,
        fetched_at=article.fetched_at,
        image=article.image,
        tags=list(article.tags),
        content_hash=text_hash,
        cluster_id=verdict.cluster_id,
        duplicate_of=verdict.duplicate_of,
        similarity=verdict.similarity,
        cluster_size=verdict.cluster_size,
        revision=verdict.revision,
        syndication=verdict.syndication or article.syndication,
        extraction=article.extraction,
    )


def error_event(entry: FeedEntry, stage: str, reason: str, detail: str = "") -> ErrorEvent:
    return ErrorEvent(
        event_id=event_id(entry.url, f"error:{stage}:{reason}"),
        url=entry.url,
        feed=source_of(entry),
        stage=stage,
        reason=reason,
        detail=detail[:2000],
        failed_at=datetime.now(UTC),
    )


def cloudevent_headers(
    event: ArticleEvent | ErrorEvent, *, time: datetime, extra: dict[str, str] | None = None
) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 Kafka binary-mode headers for `event`."""
    headers = {
        "ce_specversion": "1.0",
        "ce_id": event.event_id,
        "ce_source": f"/newsd/{event.feed.kind}/{event.feed.id}",
        "ce_type": f"io.newsd.{event.type}.v{event.schema_version}",
        "ce_time": time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "ce_dataschema": f"urn:newsd:schema:{_schema_name(event)}:v1",
        "content-type": "application/json",
        **(extra or {}),
    }
    return [(key, value.encode("utf-8")) for key, value in headers.items()]


def story_headers(event: StoryEvent, *, time: datetime) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 Kafka binary-mode headers for a story summary."""
    headers = {
        "ce_specversion": "1.0",
        "ce_id": f"{event.story_id}:{event.article_count}",
        "ce_source": "/newsd/stories",
        "ce_type": f"io.newsd.{event.type}.v{event.schema_version}",
        "ce_time": time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "ce_dataschema": "urn:newsd:schema:story-event:v1",
        "content-type": "application/json",
    }
    return [(key, value.encode("utf-8")) for key, value in headers.items()]


def _schema_name(event: ArticleEvent | ErrorEvent) -> str:
    return "article-event" if isinstance(event, ArticleEvent) else "error-event"
