"""The story stage: `story = await storyteller.decide(article, verdict, event_id)`, then
`commit` or `release`, exactly like the dedup stage it follows.

Decisions, in order:

    a repost or an update of an article in the window    → its original's story (reposts count)
    the best live article scores at least the threshold  → that article's story
    otherwise                                            → a new story, named by this event id

`story_id` is the `event_id` of the story's first article; `story_size` counts its articles so
far, reposts included.  Scoring is `score.py`, candidates come from `index.py`; the costly part
of an article's profile, its `lead_terms`, comes computed from the extraction worker.

At-least-once, as in dedup: `decide()` registers the article in memory at once (so the next
article can join its story before the broker answered); the pipeline calls `commit()` only after
the broker acknowledged both the article event and the story summary, and only then is anything
written to SQLite.  `release()` takes back what `decide()` registered.  A crash loses only
pending articles.  State never reads a clock: an article's time is its publication time (never
later than its fetch time), and the window slides with the newest article time, so replays of
the same input give the same stories.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import structlog

from daemon.events import StoryEvent
from daemon.records import Article, Verdict
from daemon.settings import StoriesSettings
from daemon.state.sqlite import Store
from daemon.stories.index import Limits, Story, StoryIndex
from daemon.stories.score import Scoring
from daemon.stories.terms import Profile, profile

log = structlog.get_logger(__name__)

_PURGE_EVERY = 1000  # commits between deletions of rows that left the window

SCHEMA = """
CREATE TABLE IF NOT EXISTS story_docs (
    event_id TEXT PRIMARY KEY,
    story_id TEXT NOT NULL,
    time     REAL NOT NULL,
    dated    INTEGER NOT NULL,
    language TEXT,
    profile  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS story_docs_time ON story_docs (time);
CREATE TABLE IF NOT EXISTS stories (
    story_id   TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    headline   TEXT,
    outlets    TEXT NOT NULL,
    languages  TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS stories_last_seen ON stories (last_seen);
"""


@dataclass(frozen=True, slots=True)
class StorySummary:
    """The latest state of one story, as published on the stories topic."""

    story_id: str
    headline: str | None
    size: int
    outlets: tuple[str, ...]
    languages: tuple[str, ...]
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class StoryVerdict:
    """What the story stage decided about one article."""

    event_id: str
    story_id: str
    story_size: int
    score: float | None  # the score of the match that chose the story; None for a new story
    summary: StorySummary
    time: float
    dated: bool  # `time` is a publication time
    profile: Profile | None  # set when the article was indexed (originals), None otherwise
    counted: bool  # True when it added one to the story's size (not for updates)


class Storyteller:
    """Groups articles into stories over a sliding window, durable in the SQLite `Store`."""

    def __init__(self, settings: StoriesSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.index = StoryIndex(
            Limits(
                window_seconds=settings.window_hours * 3600.0,
                max_articles=settings.max_articles,
                query_terms=settings.query_terms,
                max_candidates=settings.max_candidates,
            ),
            Scoring(
                name_weight=settings.name_weight,
                full_hours=settings.full_hours,
                half_life_hours=settings.half_life_hours,
            ),
        )
        self._commits = 0

    async def start(self) -> None:
        """Create the tables and load the articles and stories of the window."""
        await self.store.run(_create_tables)
        docs, stories = await self.store.run(lambda c: _load(c, self.index.limits.window_seconds))
        for row in stories:
            self.index.stories[row.story_id] = row
        for event_id, story_id, time, dated, item in docs:
            story = self.index.stories.get(story_id)
            if story is not None:
                self.index.add(event_id, story, item, time, dated=dated)
        self.index.expire()
        log.info("stories.loaded", articles=len(self.index), stories=len(self.index.stories))

    async def close(self) -> None:
        """Nothing to flush: committed articles are on disk, pending ones are lost."""

    async def decide(self, article: Article, verdict: Verdict, event_id: str) -> StoryVerdict:
        """Choose the story of `article` (whose event id is `event_id`) and register it."""
        time = article_time(article)
        story_id = None if verdict.kind == "new" else self.index.story_of(verdict.cluster_id)
        if story_id is not None and story_id in self.index.stories:
            return self._join(story_id, article, event_id, time, counted=verdict.kind != "updated")
        return self._place(article, event_id, time)

    def _join(
        self, story_id: str, article: Article, event_id: str, time: float, *, counted: bool
    ) -> StoryVerdict:
        story = self.index.stories[story_id]
        if counted:
            story.add(time, outlet_of(article), article.fields.language)
        log.debug("stories.repost", story_id=story_id, story_size=story.size)
        return _verdict(event_id, story, None, (time, is_dated(article)), None, counted)

    def _place(self, article: Article, event_id: str, time: float) -> StoryVerdict:
        fields = article.fields
        item = profile(fields.title, article.text, fields.language, lead=article.lead_terms)
        dated = is_dated(article)
        match = self.index.best(item, time, dated=dated) if item.terms else None
        if match is not None and match.score >= self.settings.threshold:
            story = self.index.stories[match.story_id]
            score: float | None = round(match.score, 4)
        else:
            story = Story(event_id, article.fields.title, first_seen=time, last_seen=time)
            score = None
        story.add(time, outlet_of(article), article.fields.language)
        self.index.add(event_id, story, item, time, dated=dated)
        self.index.expire()
        if score is not None:
            log.info("stories.joined", story_id=story.story_id, story_size=story.size, score=score)
        return _verdict(event_id, story, score, (time, dated), item, True)

    async def commit(self, verdict: StoryVerdict) -> None:
        """The article's events were acknowledged: persist it and its story's summary."""
        await self.store.run(lambda conn: _save(conn, verdict))
        self._commits += 1
        if self._commits % _PURGE_EVERY == 0:
            cutoff = self.index.watermark - self.index.limits.window_seconds
            await self.store.run(lambda conn: _purge(conn, cutoff))

    async def release(self, verdict: StoryVerdict) -> None:
        """The article was never published: take back what `decide()` registered."""
        story = self.index.stories.get(verdict.story_id)
        if verdict.counted and story is not None:
            story.size = max(0, story.size - 1)
        if verdict.profile is not None:
            self.index.remove(verdict.event_id)


def story_event(summary: StorySummary) -> StoryEvent:
    """The stories-topic event for a summary."""
    return StoryEvent(
        story_id=summary.story_id,
        headline=summary.headline,
        article_count=max(1, summary.size),
        outlets=list(summary.outlets),
        languages=list(summary.languages),
        first_seen=datetime.fromtimestamp(summary.first_seen, UTC),
        last_seen=datetime.fromtimestamp(summary.last_seen, UTC),
    )


def article_time(article: Article) -> float:
    """Publication time, never later than the fetch time (a future date is not trusted)."""
    fetched = article.fetched_at.timestamp()
    published = article.fields.published_at
    return fetched if published is None else min(published.timestamp(), fetched)


def is_dated(article: Article) -> bool:
    """True when `article_time` is a publication time (not a fetch time)."""
    published = article.fields.published_at
    return published is not None and published <= article.fetched_at


def outlet_of(article: Article) -> str | None:
    """The outlet: the site name, else the host of the canonical URL without `www.`."""
    if article.fields.site_name:
        return article.fields.site_name
    host = urlsplit(article.canonical_url).hostname
    return None if host is None else host.removeprefix("www.")


def _verdict(
    event_id: str,
    story: Story,
    score: float | None,
    when: tuple[float, bool],
    item: Profile | None,
    counted: bool,
) -> StoryVerdict:
    summary = StorySummary(
        story.story_id, story.headline, story.size, tuple(story.outlets),
        tuple(story.languages), story.first_seen, story.last_seen,
    )  # fmt: skip
    time, dated = when
    return StoryVerdict(
        event_id, story.story_id, story.size, score, summary, time, dated, item, counted
    )


# --- the durable copy (run on the Store thread) ------------------------------------------


def _create_tables(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _save(conn: sqlite3.Connection, verdict: StoryVerdict) -> None:
    item = verdict.profile
    if item is not None:
        encoded = json.dumps(
            [item.terms, item.weights, item.names],
            ensure_ascii=False,
        )
        conn.execute(
            "INSERT OR REPLACE INTO story_docs VALUES (?,?,?,?,?,?)",
            (
                verdict.event_id,
                verdict.story_id,
                verdict.time,
                verdict.dated,
                item.language,
                encoded,
            ),
        )
    s = verdict.summary
    conn.execute(
        "INSERT INTO stories VALUES (?,?,?,?,?,?,?) ON CONFLICT (story_id) DO UPDATE SET"
        " size = max(size, excluded.size), outlets = excluded.outlets,"
        " languages = excluded.languages, first_seen = min(first_seen, excluded.first_seen),"
        " last_seen = max(last_seen, excluded.last_seen)",
        (s.story_id, s.size, s.headline, json.dumps(s.outlets), json.dumps(s.languages),
         s.first_seen, s.last_seen),
    )  # fmt: skip


def _load(
    conn: sqlite3.Connection, window: float
) -> tuple[list[tuple[str, str, float, bool, Profile]], list[Story]]:
    """Articles (in commit order) and stories within `window` of the newest article time."""
    (newest,) = conn.execute("SELECT max(time) FROM story_docs").fetchone()
    if newest is None:
        return [], []
    cutoff = newest - window
    docs = [
        (eid, sid, time, bool(dated), _profile(language, encoded))
        for eid, sid, time, dated, language, encoded in conn.execute(
            "SELECT event_id, story_id, time, dated, language, profile FROM story_docs"
            " WHERE time >= ? ORDER BY rowid",
            (cutoff,),
        )
    ]
    stories = [_story(row) for row in conn.execute(
        "SELECT * FROM stories WHERE last_seen >= ?", (cutoff,)
    )]  # fmt: skip
    return docs, stories


def _profile(language: str | None, encoded: str) -> Profile:
    terms, weights, names = json.loads(encoded)
    return Profile(tuple(terms), tuple(weights), tuple(names), language)


def _story(row: tuple[Any, ...]) -> Story:
    story_id, size, headline, outlets, languages, first_seen, last_seen = row
    story = Story(story_id, headline, first_seen, last_seen, size=size)
    return replace(story, outlets=json.loads(outlets), languages=json.loads(languages))


def _purge(conn: sqlite3.Connection, cutoff: float) -> None:
    conn.execute("DELETE FROM story_docs WHERE time < ?", (cutoff,))
    conn.execute("DELETE FROM stories WHERE last_seen < ?", (cutoff,))
