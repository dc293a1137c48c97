"""The live window of the story stage: articles, their stories, and an inverted index of terms.

Memory only; `storyteller.py` persists what the broker acknowledged and reloads it at start-up.

    docs        event id → _Doc (term ids, tf weights, names, time, story), oldest first
    vocabulary  term → id; `df[id]` counts the live docs holding it (the idf of `score.py`)
    postings    term id → serial numbers of the docs holding it, oldest first
    stories     story id → Story (size, headline, outlets, languages, first/last seen)

Candidates for a new article come from the postings of its `query_terms` most distinctive terms
(tf × idf), newest first and at most `max_postings` per term, ranked by the idf weight they share;
the best `max_candidates` are scored in full — what `score.score` computes, with numpy over all
candidates at once — and the highest wins if it reaches the threshold.  Nothing here reads a
clock: times are article times, and the window slides with the newest article time seen
(`watermark`), so the same input order gives the same stories.

Articles leave the window oldest first, so a posting below the oldest live serial (`floor`) is
dead; a list is trimmed when its dead part reaches half of it (amortised O(1) per posting).
"""

from __future__ import annotations

import bisect
import itertools
import math
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from daemon.stories.score import Scoring, blend, same_language
from daemon.stories.terms import Profile

Ids = npt.NDArray[np.int32]
Floats = npt.NDArray[np.float64]


@dataclass(slots=True, eq=False)
class _Doc:
    event_id: str
    story_id: str
    serial: int  # order of indexing: postings hold serials, oldest first
    ids: Ids  # term ids, in the profile's order
    tf: npt.NDArray[np.float32]  # the profile's tf weights
    names: Ids  # name key ids
    language: str | None
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


class _Vocabulary:
    """Strings ↔ dense ids, with how many live docs hold each (`df`), their postings and a
    dense scratch vector; the id of a string no live doc holds is reused."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.strings: list[str] = []  # id → string ("" for a free id)
        self.free: list[int] = []
        # Counts, held as floats: the idf reads them without a conversion.
        self.df: Floats = np.zeros(1024, np.float64)
        # id → serials of the docs holding it, oldest first; an array of int64 costs 8 bytes a
        # posting (a list, 36) and is no work for the garbage collector.
        self.postings: list[array[int]] = []
        self.lengths: Ids = np.zeros(1024, np.int32)  # len(postings[id])
        self.scratch = np.zeros(1024, np.float64)  # zero between calls

    def known(self, strings: tuple[str, ...]) -> Ids:
        """The ids of `strings` (-1 for one no live doc holds)."""
        return np.fromiter(map(self.ids.get, strings, itertools.repeat(-1)), np.int32, len(strings))

    def intern(self, strings: tuple[str, ...], known: Ids | None = None) -> Ids:
        """The ids of `strings`, new ones given one; `known` is `known(strings)` when already
        looked up (only its unknown ones are looked up again)."""
        if known is None:
            return np.fromiter((self._id(t) for t in strings), np.int32, len(strings))
        ids = known.copy()
        for i in np.flatnonzero(known < 0).tolist():
            ids[i] = self._id(strings[i])
        return ids

    def _id(self, string: str) -> int:
        found = self.ids.get(string)
        if found is not None:
            return found
        if self.free:
            found = self.free.pop()
            self.strings[found] = string
            self.postings[found] = array("q")
        else:
            found = len(self.strings)
            self.strings.append(string)
            self.postings.append(array("q"))
            if found >= len(self.df) - 1:  # the last slot stays 0: the df of id -1
                self.df = np.concatenate([self.df, np.zeros_like(self.df)])
                self.lengths = np.concatenate([self.lengths, np.zeros_like(self.lengths)])
                self.scratch = np.zeros(len(self.df), np.float64)
        self.ids[string] = found
        return found

    def count(self, ids: Ids, step: int) -> None:
        """Add `step` to the df of `ids` (distinct); free the ids that no live doc holds."""
        self.df[ids] += step
        if step > 0:
            return
        for i in ids[self.df[ids] == 0].tolist():
            del self.ids[self.strings[i]]
            self.strings[i] = ""
            self.postings[i] = array("q")
            self.lengths[i] = 0
            self.free.append(i)

    def frequency(self, string: str) -> int:
        found = self.ids.get(string)
        return 0 if found is None else int(self.df[found])


class StoryIndex:
    """Articles within the window, searchable by term; bounded by `Limits`."""

    def __init__(self, limits: Limits, knobs: Scoring) -> None:
        self.limits = limits
        self.knobs = knobs
        self.docs: dict[str, _Doc] = {}
        self.order: deque[_Doc] = deque()
        self.by_serial: dict[int, _Doc] = {}
        self.words = _Vocabulary()  # profile terms, with postings
        self.names = _Vocabulary()  # name keys (no postings)
        self.stories: dict[str, Story] = {}
        self.watermark = -math.inf
        self._serials = itertools.count()
        # The ids `best` looked up for a profile, for `add` (until a doc is forgotten).
        self._looked_up: tuple[Profile, Ids, Ids] | None = None

    def __len__(self) -> int:
        return len(self.docs)

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency of a term over the live window."""
        return math.log((1 + len(self.docs)) / (1 + self.words.frequency(term))) + 1.0

    def name_idf(self, key: str) -> float:
        """The same for a name key."""
        return math.log((1 + len(self.docs)) / (1 + self.names.frequency(key))) + 1.0

    def document_frequency(self, term: str) -> int:
        """Live articles holding `term`."""
        return self.words.frequency(term)

    def holders(self, term: str) -> list[str]:
        """Event ids of the live articles holding `term`, oldest first."""
        found = self.words.ids.get(term)
        if found is None:
            return []
        floor = self.floor
        return [self.by_serial[s].event_id for s in self.words.postings[found] if s >= floor]

    @property
    def floor(self) -> int:
        """The oldest serial that may be live."""
        return self.order[0].serial if self.order else 0

    def story_of(self, event_id: str) -> str | None:
        doc = self.docs.get(event_id)
        return None if doc is None else doc.story_id

    def best(self, profile: Profile, time: float, *, dated: bool = True) -> Match | None:
        """The highest-scoring live article for `profile` (None when nothing shares a term).
        Time proximity counts only between two publication times (`dated`)."""
        ids = self.words.known(profile.terms)
        names = self.names.known(profile.names)
        self._looked_up = (profile, ids, names)
        weights = np.asarray(profile.weights, np.float64) * self._idf(self.words, ids)
        candidates = self._candidates(ids, weights)
        if not candidates:
            return None
        cosines = _cosines(self.words, ids, weights, candidates, self._idf)
        overlaps = _overlaps(self.names, names, [d.names for d in candidates], self._idf)
        found: Match | None = None
        for doc, cosine, overlap in zip(candidates, cosines, overlaps, strict=True):
            if not same_language(profile.language, doc.language):
                value = 0.0
            else:
                gap = time - doc.time if dated and doc.dated else 0.0
                both = len(names) > 0 and len(doc.names) > 0
                value = blend(cosine, overlap if both else None, gap, self.knobs)
            if found is None or value > found.score:
                found = Match(doc.story_id, doc.event_id, value)
        return found

    def _idf(self, vocabulary: _Vocabulary, ids: Ids) -> Floats:
        """`idf` of each id; an unknown one (-1) has the highest, as no live doc holds it."""
        top = math.log(1 + len(self.docs)) + 1.0
        return top - np.log1p(vocabulary.df[ids])

    def _candidates(self, ids: Ids, weights: Floats) -> list[_Doc]:
        """The live docs sharing the most idf weight among the query's best terms."""
        # Stable: equal weights keep the profile's order (most frequent, then alphabetical).
        best = np.argsort(-weights, kind="stable")[: self.limits.query_terms]
        best = best[ids[best] >= 0]
        if best.size == 0:
            return []
        tails = [self._live_tail(i) for i in ids[best].tolist()]
        serials = np.frombuffer(b"".join(tails), np.int64)
        if serials.size == 0:
            return []
        # Sum the weight of each serial: sort, then add up each run of equal serials.
        order = np.argsort(serials, kind="stable")
        ordered = serials[order]
        starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
        unique = ordered[starts]
        shared = np.repeat(weights[best], [len(tail) for tail in tails])
        sums = np.add.reduceat(shared[order], starts)
        # Ties: the newest article first, so the same input gives the same choice.
        ranked = np.lexsort((-unique, -sums))[: self.limits.max_candidates]
        return [self.by_serial[int(s)] for s in unique[ranked].tolist()]

    def _live_tail(self, term: int) -> array[int]:
        """The newest `max_postings` live postings of a term."""
        held = self.words.postings[term]
        start = max(len(held) - self.limits.max_postings, 0)
        if held and held[start] < self.floor:
            start = bisect.bisect_left(held, self.floor, lo=start)
        return held[start:]

    def add(
        self, event_id: str, story: Story, profile: Profile, time: float, *, dated: bool = True
    ) -> None:
        """Index one article under `story` (which the caller already counted it in); an article
        indexed again (a redo) replaces its earlier entry.  A profile without terms is kept
        (its story stays known) but is never a candidate."""
        self.remove(event_id)
        looked_up = self._looked_up
        self._looked_up = None
        if looked_up is not None and looked_up[0] is profile:  # `best` looked its terms up
            ids = self.words.intern(profile.terms, looked_up[1])
            names = self.names.intern(profile.names, looked_up[2])
        else:
            ids = self.words.intern(profile.terms)
            names = self.names.intern(profile.names)
        doc = _Doc(
            event_id, story.story_id, next(self._serials), ids,
            np.asarray(profile.weights, np.float32), names, profile.language, time, dated,
        )  # fmt: skip
        self.docs[event_id] = doc
        self.by_serial[doc.serial] = doc
        self.order.append(doc)
        self.words.count(ids, 1)
        self.names.count(names, 1)
        for i in ids.tolist():
            self.words.postings[i].append(doc.serial)
        self.words.lengths[ids] += 1
        story.indexed += 1
        self.stories[story.story_id] = story
        self.watermark = max(self.watermark, time)

    def remove(self, event_id: str) -> None:
        """Unindex one article (its event was never published)."""
        doc = self.docs.pop(event_id, None)
        if doc is not None:
            for i in doc.ids.tolist():
                self.words.postings[i].remove(doc.serial)
            self.words.lengths[doc.ids] -= 1
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
                self._trim(doc.ids)
                count += 1
        return count

    def _forget(self, doc: _Doc) -> None:
        doc.live = False
        self._looked_up = None  # its ids may be freed
        del self.by_serial[doc.serial]
        self.words.count(doc.ids, -1)
        self.names.count(doc.names, -1)
        story = self.stories.get(doc.story_id)
        if story is not None:
            story.indexed -= 1
            if story.indexed <= 0:
                del self.stories[doc.story_id]

    def _trim(self, ids: Ids) -> None:
        """Drop the dead prefix of these postings once it is half of the list or more (a
        list's postings beyond its live ones are its dead prefix: articles leave oldest first,
        and an unindexed one takes its postings along)."""
        floor = self.floor
        words = self.words
        lengths = words.lengths
        for i in ids[2 * words.df[ids] <= lengths[ids]].tolist():
            held = words.postings[i]
            if held and held[0] < floor:
                del held[: bisect.bisect_left(held, floor)]
                lengths[i] = len(held)


IdfOf = Callable[[_Vocabulary, Ids], Floats]


def _cosines(
    words: _Vocabulary, ids: Ids, weights: Floats, docs: list[_Doc], idf: IdfOf
) -> list[float]:
    """The tf × idf cosine of the query (`ids`, `weights`) with each doc, as
    `score.term_cosine` computes it."""
    norm = math.sqrt(float(weights @ weights)) or 1.0
    words.scratch[ids] = weights  # id -1 (unknown) lands in the last slot, which no doc reads
    segment, all_ids = _segments([doc.ids for doc in docs])
    theirs = np.concatenate([doc.tf for doc in docs]) * idf(words, all_ids)
    dots = np.bincount(segment, theirs * words.scratch[all_ids], minlength=len(docs))
    squares = np.bincount(segment, theirs * theirs, minlength=len(docs))
    words.scratch[ids] = 0.0
    return list((dots / (norm * np.sqrt(np.maximum(squares, 1e-300)))).tolist())


def _overlaps(names: _Vocabulary, query: Ids, docs: list[Ids], idf: IdfOf) -> list[float]:
    """The idf-weighted Jaccard of the query's name ids with each doc's, as
    `score.name_overlap` computes it."""
    if not len(query):
        return [0.0] * len(docs)
    mine = idf(names, query)
    names.scratch[query] = mine  # as in `_cosines`
    segment, all_ids = _segments(docs)
    inter = np.bincount(segment, names.scratch[all_ids], minlength=len(docs))
    theirs = np.bincount(segment, idf(names, all_ids), minlength=len(docs))
    names.scratch[query] = 0.0
    union = float(mine.sum()) + theirs - inter
    return list((inter / np.where(union > 0, union, 1.0)).tolist())


def _segments(docs: list[Ids]) -> tuple[npt.NDArray[np.intp], Ids]:
    """The ids of all `docs` in one array, and the index of the doc each came from."""
    lengths = [len(doc) for doc in docs]
    segment = np.repeat(np.arange(len(docs)), lengths)
    return segment, np.concatenate(docs) if docs else np.zeros(0, np.int32)
