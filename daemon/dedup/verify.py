"""Pure: the exact check of one candidate pair, on their shingle-id sequences.

A pair is a repost when the shingles they share are enough (Jaccard, or containment of the
smaller text in the larger, for truncated copies) AND the smaller text has no long stretch of
its own.  The second rule is what keeps two different short items that share a long
boilerplate paragraph (a press-release footer, a disclaimer) apart: their shared part is one
block, and each keeps a long contiguous run of distinctive text, whereas an edited copy's
unshared shingles come in short runs (one edited sentence each) and a truncated copy has none.
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

    def accepts(self, overlap: Overlap) -> bool:
        """True when `overlap` describes a repost."""
        enough = overlap.jaccard >= self.jaccard or overlap.containment >= self.containment
        run = overlap.longest_own_run
        own_item = run > self.max_own_run and run > self.max_own_share * overlap.smaller_size
        return enough and not own_item


def overlap(first: U32, second: U32, first_set: U32 | None = None) -> Overlap:
    """Exact set overlap of two shingle sequences; symmetric in its arguments.

    `first_set` may pass `distinct(first)` when the caller has it already (one document
    checked against several candidates).
    """
    set_a = distinct(first) if first_set is None else first_set
    set_b = distinct(second)
    shared = int(np.count_nonzero(_members(set_a, set_b)))
    union = set_a.size + set_b.size - shared
    smaller_set = min(set_a.size, set_b.size)
    if _is_smaller(first, set_a, second, set_b):
        small, other = first, set_b
    else:
        small, other = second, set_a
    return Overlap(
        jaccard=shared / union if union else 1.0,
        containment=shared / smaller_set if smaller_set else 1.0,
        longest_own_run=longest_run(~_members(small, other)),
        smaller_size=int(small.size),
    )


def _members(values: U32, sorted_set: U32) -> npt.NDArray[np.bool_]:
    # Membership by binary search in a sorted unique array: one searchsorted, no sort.
    if sorted_set.size == 0:
        return np.zeros(values.size, dtype=bool)
    found = np.minimum(sorted_set.searchsorted(values), sorted_set.size - 1)
    out: npt.NDArray[np.bool_] = sorted_set[found] == values
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
