"""Scoring two profiles: overlap of terms and names, time proximity, same language."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.stories.score import Scoring, name_overlap, score, term_cosine, time_proximity
from daemon.stories.terms import Profile

HOUR = 3600.0
KNOBS = Scoring()


def flat(term: str) -> float:
    return 1.0


def make(terms: str, names: str = "", language: str | None = "en") -> Profile:
    words = tuple(terms.split())
    return Profile(words, tuple(1.0 for _ in words), tuple(names.split()), language)


def test_identical_profiles_score_one() -> None:
    """An article scores 1 against itself at the same time."""
    a = make("izyum troop withdraw", "izm")
    assert score(a, a, 0.0, flat, flat, KNOBS) == pytest.approx(1.0)


def test_nothing_shared_scores_zero() -> None:
    """No common term and no common name: 0."""
    assert score(make("izyum troop", "izm"), make("vote senat", "snt"), 0, flat, flat, KNOBS) == 0


def test_different_languages_never_share_a_story() -> None:
    """Same words, different declared languages: 0; an unknown language counts as equal."""
    assert (
        score(make("a b c", language="en"), make("a b c", language="fr"), 0, flat, flat, KNOBS) == 0
    )
    assert score(make("a b c"), make("a b c", language=None), 0, flat, flat, KNOBS) > 0.99


def test_rare_shared_terms_count_more_than_common_ones() -> None:
    """With idf, sharing the rare term scores higher than sharing the common one."""
    idf = {"common": 1.0, "rare": 5.0, "x": 3.0, "y": 3.0}.__getitem__
    base = make("common rare x")
    assert term_cosine(base, make("rare y"), idf) > term_cosine(base, make("common y"), idf)


def test_names_weigh_in_only_when_both_have_names() -> None:
    """Name overlap blends in when both articles have names; caseless ones keep the cosine."""
    with_names = score(make("a b", "n1"), make("a c", "n1"), 0, flat, flat, KNOBS)
    without = score(make("a b"), make("a c"), 0, flat, flat, KNOBS)
    assert without == pytest.approx(0.5)
    assert with_names == pytest.approx((1 - KNOBS.name_weight) * 0.5 + KNOBS.name_weight)
    assert name_overlap(make("a", "n1 n2"), make("a", "n2 n3"), flat) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("hours", "factor"),
    [(0, 1.0), (-20, 1.0), (24, 1.0), (48, 0.5), (72, 0.25), (-72, 0.25)],
)
def test_time_proximity_table(hours: float, factor: float) -> None:
    """Full weight within a day either way, then halving every day."""
    assert time_proximity(hours * HOUR, KNOBS) == pytest.approx(factor)


_profiles = st.builds(
    make,
    st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=6, unique=True).map(" ".join),
    st.lists(st.sampled_from("nmop"), max_size=3, unique=True).map(" ".join),
)


@given(_profiles, _profiles, st.floats(-1e7, 1e7))
def test_score_is_symmetric_and_bounded(a: Profile, b: Profile, gap: float) -> None:
    """score(a, b) == score(b, a) with the gap reversed, always within [0, 1]."""
    idf = lambda term: 1.0 + (ord(term[0]) % 5)  # noqa: E731
    forward = score(a, b, gap, idf, idf, KNOBS)
    assert 0.0 <= forward <= 1.0 + 1e-9
    assert math.isclose(forward, score(b, a, -gap, idf, idf, KNOBS), abs_tol=1e-12)
