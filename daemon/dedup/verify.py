"""Pure: the exact check of one candidate pair, on their shingle-id sequences.

A pair is a repost when the shingles they share are enough (Jaccard, or containment of the
smaller text in the larger, for truncated copies) AND neither of two rules says "own item":

- the smaller text has a long stretch of its own (a long item that shares a long paragraph);
- each text opens with text of its own (at least `min_own_opening` shingles: tokens, so
  about 20 words), what they share is one block after it, and the two openings have few words
  in common: two different items, however short, that end in the same footer, disclaimer or
  "About" paragraph.  A re-headlined, wire-credited or truncated copy has no own opening on
  the original's side, an edited copy's shared part is broken by its edits, and a copy with
  an edited first sentence keeps most of that sentence's words.  This rule needs no history,
  so it holds for the first such pair.

Shingles learned as boilerplate (`boilerplate.py`) are removed from both sequences before the
check, so a footer seen in many stories weighs nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from daemon.dedup.shingles import U32, distinct


@dataclass(frozen=True, slots=True)
class Overlap:
    """How two shingle sequences overlap (set-wise), and the smaller one's longest own run."""

    jaccard: float
    containment: float  # |A ∩ B| / min(|A|, |B|): 1.0 when the smaller is a subset
    longest_own_run: int  # longest run of consecutive shingles of the smaller not in the other
    smaller_size: int  # shingle positions in the smaller text
    own_opening: int = 0  # the shorter own opening of the two, when each shares one block after
    opening_words: float = 0.0  # Jaccard of the two openings' word sets (when both are known)

    @property
    def similarity(self) -> float:
        """The reported similarity: containment (the overlap coefficient), in [0, 1]."""
        return self.containment


@dataclass(frozen=True, slots=True)
class RepostRule:
    """Thresholds of the repost decision (see the module docstring)."""

    jaccard: float = 0.3
    containment: float = 0.8
    max_own_run: int = 45  # shingles: about two sentences of the smaller text's own ...
    max_own_share: float = 0.25  # ... that are also this share of it: a different item
    min_own_opening: int = (
        16  # shingles (tokens: 20 words give 16+) of its own before one block ...
    )
    max_opening_words: float = 0.5  # ... whose words are this different (else: an edited lede)

    def accepts(self, overlap: Overlap) -> bool:
        """True when `overlap` describes a repost."""
        enough = overlap.jaccard >= self.jaccard or overlap.containment >= self.containment
        run = overlap.longest_own_run
        own_item = run > self.max_own_run and run > self.max_own_share * overlap.smaller_size
        own_openings = (
            overlap.own_opening >= self.min_own_opening
            and overlap.opening_words < self.max_opening_words
        )
        return enough and not own_item and not own_openings


def overlap(
    first: U32,
    second: U32,
    first_set: U32 | None = None,
    openings: tuple[U32 | None, U32 | None] = (None, None),
    first_inverse: U32 | None = None,
) -> Overlap:
    """Exact set overlap of two shingle sequences; symmetric in its arguments.

    `first_set` may pass `distinct(first)` when the caller has it already (one document
    checked against several candidates), and with it `first_inverse`, the index in it of each
    of `first`'s shingles (`shingles.distinct_inverse`).  `openings` are the texts' first token
    hashes (`shingles.opening_tokens`), when known.
    """
    set_a = distinct(first) if first_set is None else first_set
    set_b = distinct(second)
    set_a_shared = members(set_a, set_b)
    shared = int(np.count_nonzero(set_a_shared))
    union = set_a.size + set_b.size - shared
    smaller_set = min(set_a.size, set_b.size)
    first_smaller = _is_smaller(first, set_a, second, set_b)
    small = first if first_smaller else second
    in_b = (
        members(first, set_b)
        if first_set is None or first_inverse is None
        else set_a_shared[first_inverse]
    )
    own_a = opening_before_block(in_b)
    # The second's positions matter for its own opening (only their minimum counts, so not
    # when the first has none) and for its own run when it is the smaller.
    in_a = members(second, set_a) if own_a or not first_smaller else in_b
    own_b = opening_before_block(in_a) if own_a else 0
    opening = min(own_a, own_b)
    words = 0.0
    if opening and openings[0] is not None and openings[1] is not None:
        words = _word_jaccard(openings[0][: own_a + _SPAN], openings[1][: own_b + _SPAN])
    return Overlap(
        jaccard=shared / union if union else 1.0,
        containment=shared / smaller_set if smaller_set else 1.0,
        longest_own_run=longest_run(~(in_b if first_smaller else in_a)),
        smaller_size=int(small.size),
        own_opening=opening,
        opening_words=words,
    )


_SPAN = 4  # shingle positions of an opening cover this many more tokens (shingle size - 1)


def _word_jaccard(first: U32, second: U32) -> float:
    set_a, set_b = distinct(first), distinct(second)
    shared = int(np.count_nonzero(members(set_a, set_b)))
    union = set_a.size + set_b.size - shared
    return shared / union if union else 1.0


def opening_before_block(shared: npt.NDArray[np.bool_], gap: int = 5) -> int:
    """Positions before the first shared one, if every shared position after them forms one
    block (unshared gaps of at most `gap` positions, one changed word, are bridged); else 0."""
    if shared.size == 0 or shared[0]:  # no opening of its own (or nothing at all)
        return 0
    start = int(shared.argmax())
    if start == 0:  # nothing shared
        return 0
    block = shared[start:]
    last = block.size - int(block[::-1].argmax())
    return start if longest_run(~block[:last]) <= gap else 0


def members(values: U32, sorted_set: U32) -> npt.NDArray[np.bool_]:
    # Membership by binary search in a sorted unique array: one searchsorted, no sort.
    if sorted_set.size == 0:
        return np.zeros(values.size, dtype=bool)
    found = sorted_set.searchsorted(values)
    out: npt.NDArray[np.bool_] = sorted_set.take(found, mode="clip") == values
    return out


def _is_smaller(first: U32, set_a: U32, second: U32, set_b: U32) -> bool:
    # Fewer distinct shingles, then fewer positions, then the bytes: so that the choice, and
    # overlap(a, b) == overlap(b, a), is exact even for ties.
    if (set_a.size, first.size) != (set_b.size, second.size):
        return (set_a.size, first.size) < (set_b.size, second.size)
    return first.tobytes() <= second.tobytes()


def longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True values in a boolean array."""
    if not mask.any():
        return 0
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[0::2]).max())
