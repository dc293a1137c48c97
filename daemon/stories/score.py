"""Pure: how likely two articles report the same story, from their profiles alone.

    score = same_language × time_proximity × ((1 − w) · term_cosine + w · name_overlap)

- term_cosine: cosine of the two profiles' term vectors, each term weighted tf × idf, where the
  idf comes from the live window (a term most live articles share says little).
- name_overlap: idf-weighted Jaccard of the names (capitalised terms) of both, when both have
  names; otherwise the term cosine stands alone (w = 0), so caseless scripts are not penalised.
- time_proximity: 1 within `full_hours` of each other, then halving every `half_life_hours`.
- same_language: different declared languages never share a story (0); unknown counts as equal.

No I/O, no state: the index passes in the idf function and the time gap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from daemon.stories.terms import Profile

Idf = Callable[[str], float]


@dataclass(frozen=True, slots=True)
class Scoring:
    """The knobs of `score`, with the defaults the quality bench was tuned with."""

    name_weight: float = 0.35
    full_hours: float = 24.0
    half_life_hours: float = 24.0


@dataclass(frozen=True, slots=True)
class Query:
    """One side of `score`, computed once when an article is scored against many."""

    profile: Profile
    vector: dict[str, float]  # term → tf × idf
    norm: float
    names: frozenset[str]


def query(a: Profile, idf: Idf) -> Query:
    vector = {term: tf * idf(term) for term, tf in zip(a.terms, a.weights, strict=True)}
    norm = math.sqrt(sum(w * w for w in vector.values())) or 1.0
    return Query(a, vector, norm, frozenset(a.names))


def score(
    a: Profile, b: Profile, gap_seconds: float, idf: Idf, name_idf: Idf, knobs: Scoring
) -> float:
    """Same-story score in [0, 1]; 0 across languages.  `idf` weighs terms, `name_idf` name
    keys."""
    return score_query(query(a, idf), b, gap_seconds, idf, name_idf, knobs)


def score_query(
    q: Query, b: Profile, gap_seconds: float, idf: Idf, name_idf: Idf, knobs: Scoring
) -> float:
    """`score` with the first profile prepared by `query`."""
    if not same_language(q.profile.language, b.language):
        return 0.0
    names = _name_overlap(q.names, frozenset(b.names), name_idf) if q.names and b.names else None
    return blend(_cosine(q, b, idf), names, gap_seconds, knobs)


def same_language(a: str | None, b: str | None) -> bool:
    """Different declared languages never share a story; an unknown one counts as equal."""
    return not (a and b and a != b)


def blend(cosine: float, names: float | None, gap_seconds: float, knobs: Scoring) -> float:
    """The score from its parts: the term cosine, the name overlap (None when either side has
    no names) and the time gap."""
    content = cosine
    if names is not None:
        content = (1 - knobs.name_weight) * cosine + knobs.name_weight * names
    return content * time_proximity(gap_seconds, knobs)


def term_cosine(a: Profile, b: Profile, idf: Idf) -> float:
    """Cosine of the tf × idf vectors of two profiles."""
    return _cosine(query(a, idf), b, idf)


def name_overlap(a: Profile, b: Profile, idf: Idf) -> float:
    """idf-weighted Jaccard of the name keys of two profiles (0 when either has none)."""
    return _name_overlap(frozenset(a.names), frozenset(b.names), idf)


def time_proximity(gap_seconds: float, knobs: Scoring) -> float:
    """1 within `full_hours`, then halving every `half_life_hours`."""
    beyond = max(0.0, abs(gap_seconds) / 3600.0 - knobs.full_hours)
    return float(0.5 ** (beyond / knobs.half_life_hours))


def _cosine(q: Query, b: Profile, idf: Idf) -> float:
    mine = q.vector
    dot = squares = 0.0
    for term, tf in zip(b.terms, b.weights, strict=True):
        weight = tf * idf(term)
        squares += weight * weight
        if term in mine:
            dot += mine[term] * weight
    if dot == 0.0:
        return 0.0
    return dot / (q.norm * math.sqrt(squares))


def _name_overlap(mine: frozenset[str], theirs: frozenset[str], idf: Idf) -> float:
    union = sum(idf(name) for name in mine | theirs)
    if union == 0.0:
        return 0.0
    return sum(idf(name) for name in mine & theirs) / union
