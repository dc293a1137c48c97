"""Pure: cleaned body → word tokens → hashed word k-shingles.

Shingle ids are derived from code points with fixed constants, never from Python's salted
`hash()`, so the same text gives the same ids on every machine, run and Python version; ids are
persisted and compared across restarts.  Hashing is vectorised with numpy: tokens are laid out as
a fixed-width UCS-4 matrix and hashed as one dot product per row.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]

# Scripts written without spaces (CJK ideographs, kana) give one token per character; every other
# script gives runs of letters/digits.  Long runs are cut into pieces of at most 24 characters so
# the hashing matrix stays narrow (deterministic, so ids stay stable).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]{{1,24}}")
_MAX_TOKEN = 24


def constants(label: str, count: int) -> U64:
    """`count` odd 64-bit constants derived from `label` with BLAKE2b.

    Not numpy's generators: their streams may change between numpy versions, and these values
    define ids that are persisted.
    """
    values = [
        int.from_bytes(hashlib.blake2b(f"{label}:{i}".encode(), digest_size=8).digest(), "big") | 1
        for i in range(count)
    ]
    return np.array(values, dtype=np.uint64)


_CHAR_WEIGHTS = constants("newsd.shingles.char", _MAX_TOKEN)
_POS_WEIGHTS = constants("newsd.shingles.position", 16)


def tokens(text: str) -> list[str]:
    """Word tokens of `text`: NFKC, case-folded, letters and digits only (punctuation dropped)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def mix64(values: U64) -> U64:
    """splitmix64 finaliser: spreads the bits of every value (array in, array out)."""
    z = values ^ (values >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    out: U64 = z ^ (z >> np.uint64(31))
    return out


def token_hashes(words: list[str]) -> U64:
    """One stable 64-bit hash per token."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    matrix = np.array(words)
    width = matrix.dtype.itemsize // 4
    points = matrix.view(np.uint32).reshape(len(words), width).astype(np.uint64)
    return mix64(points @ _CHAR_WEIGHTS[:width])


def shingle_ids(text: str, size: int = 5) -> U32:
    """The hashed word `size`-shingles of `text`, in text order (duplicates kept), as uint32.

    A text with fewer than `size` tokens gives one shingle of all its tokens (none if empty).
    """
    hashed = token_hashes(tokens(text))
    if hashed.size == 0:
        return np.zeros(0, dtype=np.uint32)
    size = max(1, min(size, hashed.size, _POS_WEIGHTS.size))
    count = hashed.size - size + 1
    combined = np.zeros(count, dtype=np.uint64)
    for offset in range(size):
        combined += hashed[offset : offset + count] * _POS_WEIGHTS[offset]
    return (mix64(combined) >> np.uint64(32)).astype(np.uint32)
