"""Shingling, MinHash and the exact check: pure functions."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.dedup.keys import collapse_space, fold
from daemon.dedup.minhash import MinHasher, estimate_jaccard
from daemon.dedup.shingles import distinct, folded_token_hashes, shingle_ids, token_hashes, tokens
from daemon.dedup.verify import RepostRule, longest_run, overlap

texts = st.text(min_size=0, max_size=400)


def test_tokens_cover_non_latin_scripts() -> None:
    """NFKC + casefold; CJK gives one token per character; Cyrillic and Hangul are words."""
    assert tokens("Привет, МИР! ﬁnance 한국어 日本") == [
        "привет",
        "мир",
        "finance",
        "한국어",
        "日",
        "本",
    ]


def test_shingle_ids_are_pinned_across_machines() -> None:
    """The ids are persisted: this exact value must never change (no salted hash())."""
    assert (
        shingle_ids("the quick brown fox jumps over the lazy dog").tolist()[:2]
        == (shingle_ids("The QUICK brown fox, jumps over the lazy dog!").tolist()[:2])
    )
    assert shingle_ids("one two three four five").tolist() == [1588150139]


@given(texts)
@settings(max_examples=60)
def test_shingling_is_deterministic(text: str) -> None:
    """Same text, same ids, as uint32, one per 5-word window (at least one if any token)."""
    first, second = shingle_ids(text), shingle_ids(text)
    assert first.dtype == np.uint32 and np.array_equal(first, second)
    count = len(tokens(text))
    assert first.size == (max(count - 4, 1) if count else 0)


@given(texts, texts)
@settings(max_examples=60)
def test_overlap_is_symmetric(a: str, b: str) -> None:
    """overlap(a, b) == overlap(b, a), and both measures lie in [0, 1]."""
    first, second = overlap(shingle_ids(a), shingle_ids(b)), overlap(shingle_ids(b), shingle_ids(a))
    assert first == second
    assert 0 <= first.jaccard <= first.containment <= 1


def test_minhash_estimates_jaccard(bodies: list[str]) -> None:
    """The signature estimate is within 0.2 of the exact Jaccard for a truncated copy."""
    hasher = MinHasher(64, 32)
    full = shingle_ids(bodies[0])
    half = full[: full.size // 2]
    exact = overlap(full, half).jaccard
    assert abs(estimate_jaccard(hasher.signature(full), hasher.signature(half)) - exact) < 0.2
    assert hasher.band_keys(hasher.signature(full)).shape == (32,)


def test_longest_run() -> None:
    """Runs of True values are measured exactly."""
    assert longest_run(np.array([True, True, False, True, True, True, False])) == 3
    assert longest_run(np.array([False, False])) == 0


def test_rule_rejects_a_long_own_stretch() -> None:
    """High overlap is not enough when the smaller text keeps a long stretch of its own."""
    from daemon.dedup.verify import Overlap

    rule = RepostRule()
    assert rule.accepts(Overlap(jaccard=0.6, containment=0.9, longest_own_run=20, smaller_size=200))
    assert not rule.accepts(Overlap(0.6, 0.7, longest_own_run=80, smaller_size=240))
    assert not rule.accepts(Overlap(0.1, 0.2, longest_own_run=0, smaller_size=240))


_CJK_AND_WORDS = st.text(
    alphabet=st.sampled_from("ab Zé_-1.\n\t\u3000日本ア・한ß\u0130\u212aﬁ") | st.characters(),
    max_size=300,
)


@given(_CJK_AND_WORDS)
@settings(max_examples=300)
def test_vectorised_token_hashes_equal_the_plain_definition(text: str) -> None:
    """The numpy tokeniser hashes exactly the tokens the regex finds (CJK, long runs, '_')."""
    assert np.array_equal(folded_token_hashes(fold(text)), token_hashes(tokens(text)))


def test_long_runs_are_cut_every_24_characters() -> None:
    """A 50-letter word is three tokens (24 + 24 + 2), in both tokenisers."""
    word = "x" * 50
    assert tokens(word) == ["x" * 24, "x" * 24, "xx"]
    assert np.array_equal(folded_token_hashes(word), token_hashes(tokens(word)))


def test_whitespace_collapse_matches_the_regex_on_every_code_point() -> None:
    """str.split() whitespace is regex \\s whitespace, so the content hash is unchanged."""
    everything = "".join(map(chr, range(0x110000)))
    spaced = f"a{everything}b  c"
    assert collapse_space(spaced) == re.sub(r"\s+", " ", spaced).strip()


def _reference_overlap(first: list[int], second: list[int]) -> tuple[float, float, int]:
    set_a, set_b = set(first), set(second)
    shared, union = len(set_a & set_b), len(set_a | set_b)
    key_a, key_b = (len(set_a), len(first)), (len(set_b), len(second))
    if key_a != key_b:
        small, other = (first, set_b) if key_a < key_b else (second, set_a)
    else:
        a_bytes = np.array(first, np.uint32).tobytes()
        small, other = (
            (first, set_b) if a_bytes <= np.array(second, np.uint32).tobytes() else (second, set_a)
        )
    run = best = 0
    for value in small:
        run = 0 if value in other else run + 1
        best = max(best, run)
    smaller = min(len(set_a), len(set_b))
    return (shared / union if union else 1.0, shared / smaller if smaller else 1.0, best)


_IDS = st.lists(st.integers(0, 40), max_size=60)


@given(_IDS, _IDS)
@settings(max_examples=300)
def test_overlap_equals_the_set_definition(first: list[int], second: list[int]) -> None:
    """Jaccard, containment and the smaller's longest own run, as Python sets define them."""
    a, b = np.array(first, np.uint32), np.array(second, np.uint32)
    for measured in (overlap(a, b), overlap(a, b, np.unique(a))):
        got = (measured.jaccard, measured.containment, measured.longest_own_run)
        assert got == _reference_overlap(first, second)


@given(st.lists(st.integers(0, 2**32 - 1), max_size=200))
@settings(max_examples=100)
def test_signature_of_distinct_ids_is_the_same(ids: list[int]) -> None:
    """signature(x) == signature(unique(x), is_distinct=True), and is the min of the hash family."""
    hasher = MinHasher(64, 32)
    values = np.array(ids, np.uint32)
    signature = hasher.signature(values)
    assert np.array_equal(signature, hasher.signature(np.unique(values), is_distinct=True))
    if ids:
        x = np.unique(values).astype(np.uint64)[:, None]
        plain = ((x * hasher._a + hasher._b) >> np.uint64(32)).min(axis=0)
        assert np.array_equal(signature, plain.astype(np.uint32))


@given(st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 5), max_size=80))
def test_distinct_is_np_unique(ids: list[int]) -> None:
    """distinct() returns exactly np.unique's sorted distinct values, as uint32."""
    values = np.array(ids, np.uint32)
    got = distinct(values)
    assert got.dtype == np.uint32 and np.array_equal(got, np.unique(values))
