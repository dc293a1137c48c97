"""The window index: candidates by distinctive terms, a sliding window, a memory budget."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.stories.index import Limits, Story, StoryIndex
from daemon.stories.score import Scoring, score
from daemon.stories.terms import Profile

HOUR = 3600.0


def make(terms: str) -> Profile:
    words = tuple(terms.split())
    return Profile(words, tuple(1.0 for _ in words), (), "en")


def add(index: StoryIndex, event_id: str, terms: str, time: float = 0.0) -> Story:
    story = Story(event_id, None, time, time)
    story.add(time, None, "en")
    index.add(event_id, story, make(terms), time)
    return story


def test_best_finds_the_article_sharing_distinctive_terms() -> None:
    """Among many articles on a common topic, the one sharing the rare names wins."""
    index = StoryIndex(Limits(), Scoring())
    for i in range(50):
        add(index, f"other{i}", f"russia ukrain war town{i}")
    add(index, "target", "russia ukrain izyum balakleya")
    match = index.best(make("russia ukrain izyum balakleya kupiansk"), 0.0)
    assert match is not None and match.event_id == "target" and match.score > 0.5


def test_best_is_none_when_nothing_is_shared() -> None:
    """No common term: no candidate at all."""
    index = StoryIndex(Limits(), Scoring())
    add(index, "a", "alpha beta")
    assert index.best(make("gamma delta"), 0.0) is None


def test_articles_leave_the_window() -> None:
    """An article older than the window (behind the newest article time) is forgotten, with
    its terms' counts and its story."""
    index = StoryIndex(Limits(window_seconds=72 * HOUR), Scoring())
    add(index, "old", "izyum", time=0.0)
    add(index, "new", "kherson", time=73 * HOUR)
    assert index.expire() == 1
    assert index.story_of("old") is None and "old" not in index.stories
    assert index.document_frequency("izyum") == 0 and index.holders("izyum") == []
    assert index.best(make("izyum"), 73 * HOUR) is None


def test_the_budget_bounds_the_window() -> None:
    """Past `max_articles`, the oldest articles go first, whatever their age."""
    index = StoryIndex(Limits(max_articles=100), Scoring())
    for i in range(150):
        add(index, f"a{i}", f"shared term{i}", time=float(i))
        index.expire()
    assert len(index) == 100
    assert index.story_of("a49") is None and index.story_of("a50") == "a50"
    assert index.document_frequency("shared") == 100
    assert len(index.holders("shared")) == 100


def test_removed_articles_are_never_candidates() -> None:
    """A released article is unindexed at once; its story goes when it was the only one."""
    index = StoryIndex(Limits(), Scoring())
    add(index, "a", "izyum troop")
    index.remove("a")
    assert index.best(make("izyum troop"), 0.0) is None
    assert "a" not in index.stories and not index.words.ids


def test_an_article_indexed_again_is_counted_once() -> None:
    """A redo of the same event id replaces the earlier entry: term counts stay right."""
    index = StoryIndex(Limits(), Scoring())
    add(index, "a", "izyum troop")
    add(index, "a", "izyum troop")
    assert len(index) == 1 and index.document_frequency("izyum") == 1
    assert index.holders("izyum") == ["a"]


_WORDS = st.sampled_from([f"t{i}" for i in range(12)])
_PROFILES = st.builds(
    lambda terms, tfs, names, lang: Profile(
        tuple(terms), tuple(tfs[: len(terms)]), tuple(sorted(set(names))), lang
    ),
    st.lists(_WORDS, min_size=1, max_size=6, unique=True),
    st.lists(st.sampled_from([1.0, 1.5, 2.0, 3.0]), min_size=6, max_size=6),
    st.lists(st.sampled_from(["n1", "n2", "n3", "n4"]), max_size=3),
    st.sampled_from(["en", "fr", None]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_PROFILES, min_size=1, max_size=12), _PROFILES, st.floats(0, 80 * HOUR))
def test_best_scores_as_the_pure_score_does(docs: list[Profile], new: Profile, at: float) -> None:
    """With room for every candidate, `best` finds the highest `score.score` of any live article
    sharing a term, with the window's idf, and reports that very score."""
    index = StoryIndex(Limits(max_candidates=100, max_postings=100, query_terms=100), Scoring())
    for i, item in enumerate(docs):
        story = Story(f"d{i}", None, float(i), float(i))
        index.add(f"d{i}", story, item, float(i) * HOUR)
    match = index.best(new, at)
    sharing = [i for i, item in enumerate(docs) if set(item.terms) & set(new.terms)]
    if not sharing:
        assert match is None
        return
    expected = [
        score(new, docs[i], at - i * HOUR, index.idf, index.name_idf, index.knobs) for i in sharing
    ]
    assert match is not None
    assert match.score == pytest.approx(max(expected), rel=1e-5, abs=1e-9)
    chosen = int(match.event_id[1:])
    assert match.score == pytest.approx(expected[sharing.index(chosen)], rel=1e-5, abs=1e-9)


def test_postings_of_expired_articles_are_trimmed() -> None:
    """A term every article holds keeps at most about twice its live postings as the window
    slides (dead ones are dropped in bulk), and term ids no article holds are reused."""
    index = StoryIndex(Limits(max_articles=100), Scoring())
    for i in range(1000):
        add(index, f"a{i}", f"shared term{i}", time=float(i))
        index.expire()
    shared = index.words.postings[index.words.ids["shared"]]
    assert index.document_frequency("shared") == 100 and len(shared) <= 200
    assert len(index.words.strings) <= 2 * 100 + 2


def test_an_article_indexed_again_after_best_gets_live_term_ids() -> None:
    """`best` then `add` of an article already indexed (a redo) frees and re-creates its only
    terms: the index stays consistent (the term is found, its df is 1)."""
    index = StoryIndex(Limits(), Scoring())
    item = Profile(("lonely", "word"), (1.0, 1.0), (), "en")
    story = Story("a", None, 0.0, 0.0)
    index.add("a", story, item, 0.0)
    index.best(item, 0.0)
    index.add("a", story, item, 0.0)
    assert index.document_frequency("lonely") == 1
    assert index.holders("lonely") == ["a"]
    assert index.words.strings[index.words.ids["lonely"]] == "lonely"
