"""Pure: MinHash signatures of shingle-id sets, and LSH band keys derived from them.

A signature has `num_perm` uint32 values: value i is the minimum of a multiply-shift hash
`(a_i * x + b_i) mod 2**64 >> 32` over the document's shingle ids, computed for all shingles and
all permutations at once with numpy.  The constants are derived with BLAKE2b from fixed labels,
so signatures are identical on every machine and can be persisted.
"""

from __future__ import annotations

import numpy as np

from daemon.dedup.shingles import U32, U64, constants, distinct, mix64

BAND_BITS = 56  # band hash bits; the top byte of a key names the band (or another key kind)


class MinHasher:
    """Signatures over `num_perm` hash functions, banded into `bands` bands for LSH."""

    def __init__(self, num_perm: int = 64, bands: int = 32) -> None:
        if num_perm % bands:
            raise ValueError("num_perm must be a multiple of bands")
        self.num_perm = num_perm
        self.bands = bands
        self.rows = num_perm // bands
        self._a = constants("newsd.minhash.a", num_perm)
        self._b = constants("newsd.minhash.b", num_perm)
        self._a_column, self._b_column = self._a[:, None], self._b[:, None]
        self._row_weights = constants("newsd.minhash.rows", self.rows)
        self._band_tags: U64 = np.arange(bands, dtype=np.uint64) << np.uint64(BAND_BITS)

    def signature(self, shingles: U32, *, is_distinct: bool = False) -> U32:
        """MinHash signature of the set of `shingles` (all-ones for an empty set).

        `is_distinct=True` promises `shingles` holds no repeats (saves a sort).
        """
        unique = (shingles if is_distinct else distinct(shingles)).astype(np.uint64)
        if unique.size == 0:
            return np.full(self.num_perm, 0xFFFFFFFF, dtype=np.uint32)
        # One (num_perm x n) product; each row's minimum runs along contiguous memory.
        hashed = self._a_column * unique
        hashed += self._b_column
        # x >> 32 is monotonic, so the minimum can be taken before the shift (on num_perm values).
        out: U32 = (hashed.min(axis=1) >> np.uint64(32)).astype(np.uint32)
        return out

    def band_keys(self, signatures: U32) -> U64:
        """LSH keys, one per band: band number in the top byte, a hash of its rows below.

        Accepts one signature (shape `(num_perm,)` → `(bands,)`) or many (`(n, num_perm)` →
        `(n, bands)`), so a whole index can be rebuilt in one call at start-up.
        """
        rows = signatures.reshape(*signatures.shape[:-1], self.bands, self.rows)
        combined = (rows.astype(np.uint64) * self._row_weights).sum(axis=-1, dtype=np.uint64)
        mask = np.uint64((1 << BAND_BITS) - 1)
        return (mix64(combined) & mask) | self._band_tags


def estimate_jaccard(first: U32, second: U32) -> float:
    """Share of equal signature positions: an unbiased estimate of the Jaccard similarity."""
    return float(np.count_nonzero(first == second)) / max(first.size, 1)
