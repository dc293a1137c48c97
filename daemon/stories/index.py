"""The live window of the story stage: articles, their stories, and an inverted index of terms.

Memory only; `storyteller.py` persists what the broker acknowledged and reloads it at start-up.

    docs       event id → _Doc (profile, time, story): the articles indexed, oldest first
    postings   term → the docs holding it among their profile terms, oldest first
    df         term → how many live docs hold it (the idf of `score.py`)
    stories    story id → _Story (size, headline, outlets, languages, first/last seen)

Candidates for a new article come from the postings of its `query_terms` most distinctive terms
(tf × idf), newest first and at most `max_postings` per term, ranked by the idf weight they share;
the best `max_candidates` are scored in full (`score.score`) and the highest wins if it reaches
the threshold.  Nothing here reads a clock: times are article times, and the window slides with
the newest article time seen (`watermark`), so the same input order gives the same stories.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter, deque
from dataclasses import dataclass, field

from daemon.stories.score import Idf, Scoring, query, score_query
from daemon.stories.terms import Profile


@dataclass(slots=True, eq=False)  # hashed by identity: candidates are counted per object
class _Doc:
    event_id: str
    story_id: str
    profile: Profile
    time: float
    dated: bool = True  # `time` is a publication time (else a fetch time: no proximity)
    live: bool = True


@dataclass(slots=True)
class Story:
    """What the stage knows of one story (its summary on the stories topic)."""

    story_id: str
    headline: str | None
    first_seen: float
    last_seen: float
    size: int = 0
    outlets: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    indexed: int = 0  # live docs of the story in the index

    def add(self, time: float, outlet: str | None, language: str | None) -> None:
        self.size += 1
        self.first_seen = min(self.first_seen, time)
        self.last_seen = max(self.last_seen, time)
        if outlet and outlet not in self.outlets:
            self.outlets.append(outlet)
        if language and language not in self.languages:
            self.languages.append(language)


@dataclass(frozen=True, slots=True)
class Match:
    """The best story for an article, and its score."""

    story_id: str
    event_id: str  # the article it matched
    score: float


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of the index: window, memory and work per article."""

    window_seconds: float = 72 * 3600.0
    max_articles: int = 50_000
    query_terms: int = 12
    max_postings: int = 64
    max_candidates: int = 8


class StoryIndex:
    """Articles within the window, searchable by term; bounded by `Limits`."""

    def __init__(self, limits: Limits, knobs: Scoring) -> None:
        self.limits = limits
        self.knobs = knobs
        self.docs: dict[str, _Doc] = {}
        self.order: deque[_Doc] = deque()
        self.postings: dict[str, list[_Doc]] = {}
        self.df: Counter[str] = Counter()
        self.name_df: Counter[str] = Counter()  # the same for name keys
        self.stories: dict[str, Story] = {}
        self.watermark = -math.inf

    def __len__(self) -> int:
        return len(self.docs)

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency of a term over the live window."""
        return math.log((1 + len(self.docs)) / (1 + self.df.get(term, 0))) + 1.0

    def name_idf(self, key: str) -> float:
        """The same for a name key."""
        return math.log((1 + len(self.docs)) / (1 + self.name_df.get(key, 0))) + 1.0

    def story_of(self, event_id: str) -> str | None:
        doc = self.docs.get(event_id)
        return None if doc is None else doc.story_id

    def best(self, profile: Profile, time: float, *, dated: bool = True) -> Match | None:
        """The highest-scoring live article for `profile` (None when nothing shares a term).
        Time proximity counts only between two publication times (`dated`)."""
        idf = self._idf_table([profile.terms])
        candidates = self._candidates(profile, idf)
        idf.update(self._idf_table([doc.profile.terms for doc in candidates]))
        name_idf = _memo(self.name_idf)
        prepared = query(profile, idf.__getitem__)
        found: Match | None = None
        for doc in candidates:
            gap = time - doc.time if dated and doc.dated else 0.0
            value = score_query(prepared, doc.profile, gap, idf.__getitem__, name_idf, self.knobs)
            if found is None or value > found.score:
                found = Match(doc.story_id, doc.event_id, value)
        return found

    def _idf_table(self, groups: list[tuple[str, ...]]) -> dict[str, float]:
        """`idf` of every term of `groups`, in one pass (the window does not change meanwhile)."""
        top = math.log(1 + len(self.docs)) + 1.0
        df = self.df.get
        return {term: top - math.log(1 + df(term, 0)) for terms in groups for term in terms}

    def _candidates(self, profile: Profile, idf: dict[str, float]) -> list[_Doc]:
        shared: dict[_Doc, float] = {}
        for term, weight in self._query(profile, idf):
            postings = self.postings.get(term, ())
            for doc in itertools.islice(reversed(postings), self.limits.max_postings):
                if doc.live:
                    shared[doc] = shared.get(doc, 0.0) + weight
        # Ties keep the order of discovery (newest postings of the best term first): the same
        # input gives the same choice.
        return heapq.nlargest(self.limits.max_candidates, shared, key=shared.__getitem__)

    def _query(self, profile: Profile, idf: dict[str, float]) -> list[tuple[str, float]]:
        weighted = [(t, w * idf[t]) for t, w in zip(profile.terms, profile.weights, strict=True)]
        weighted.sort(key=lambda tw: (-tw[1], tw[0]))
        return weighted[: self.limits.query_terms]

    def add(
        self, event_id: str, story: Story, profile: Profile, time: float, *, dated: bool = True
    ) -> None:
        """Index one article under `story` (which the caller already counted it in); an article
        indexed again (a redo) replaces its earlier entry."""
        self.remove(event_id)
        doc = _Doc(event_id, story.story_id, profile, time, dated)
        self.docs[event_id] = doc
        self.order.append(doc)
        for term in profile.terms:
            self.postings.setdefault(term, []).append(doc)
            self.df[term] += 1
        self.name_df.update(profile.names)
        story.indexed += 1
        self.stories[story.story_id] = story
        self.watermark = max(self.watermark, time)

    def remove(self, event_id: str) -> None:
        """Unindex one article (its event was never published)."""
        doc = self.docs.pop(event_id, None)
        if doc is not None:
            self._forget(doc)

    def expire(self) -> int:
        """Forget articles older than the window or past `max_articles`, oldest first."""
        cutoff = self.watermark - self.limits.window_seconds
        count = 0
        while self.order and (
            not self.order[0].live
            or self.order[0].time < cutoff
            or len(self.docs) > self.limits.max_articles
        ):
            doc = self.order.popleft()
            if doc.live:
                del self.docs[doc.event_id]
                self._forget(doc)
                count += 1
        return count

    def _forget(self, doc: _Doc) -> None:
        doc.live = False
        for term in doc.profile.terms:
            self._unpost(term)
        for key in doc.profile.names:
            left = self.name_df[key] - 1
            if left > 0:
                self.name_df[key] = left
            else:
                del self.name_df[key]
        story = self.stories.get(doc.story_id)
        if story is not None:
            story.indexed -= 1
            if story.indexed <= 0:
                del self.stories[doc.story_id]

    def _unpost(self, term: str) -> None:
        left = self.df[term] - 1
        if left <= 0:
            del self.df[term]
            self.postings.pop(term, None)
            return
        self.df[term] = left
        postings = self.postings[term]
        if not postings[0].live:  # drop the dead prefix (lists: a deque costs 600 B a term)
            first = next((i for i, doc in enumerate(postings) if doc.live), len(postings))
            del postings[:first]


def _memo(idf: Idf) -> Idf:
    """`idf` remembered for the duration of one decision (the window does not change)."""
    known: dict[str, float] = {}

    def cached(term: str) -> float:
        value = known.get(term)
        if value is None:
            value = known[term] = idf(term)
        return value

    return cached
