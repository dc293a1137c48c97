"""Pure: cleaned body → word tokens → hashed word k-shingles.

Shingle ids are derived from code points with fixed constants, never from Python's salted
`hash()`, so the same text gives the same ids on every machine, run and Python version; ids are
persisted and compared across restarts.  Tokenising and hashing are vectorised with numpy: the
text's code points are classified with a lookup table built once from the token pattern's own
character classes, and each token's hash is a weighted sum of its code points (weights by position
in the token) taken with one `np.add.reduceat`.  `tokens()` and `token_hashes()` are the plain
definitions; a property test checks that the vectorised path gives the same ids.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache

import numpy as np
import numpy.typing as npt

from daemon.dedup.keys import fold

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]

# Scripts written without spaces (CJK ideographs, kana) give one token per character; every other
# script gives runs of letters/digits.  Long runs are cut into pieces of at most 24 characters so
# the hashing matrix stays narrow (deterministic, so ids stay stable).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_CHAR = rf"[{_CJK}]"
_WORD_CHAR = rf"[^\W_{_CJK}]"
_TOKEN = re.compile(rf"{_CJK_CHAR}|{_WORD_CHAR}{{1,24}}")
_MAX_TOKEN = 24
OPENING_TOKENS = 64  # token hashes kept per document for the opening check (verify.py)


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
_CHAR_WEIGHTS_0 = np.append(_CHAR_WEIGHTS, np.uint64(0))  # index _MAX_TOKEN: not in a token


def tokens(text: str) -> list[str]:
    """Word tokens of `text`: NFKC, case-folded, letters and digits only (punctuation dropped)."""
    return _TOKEN.findall(fold(text))


@cache
def _char_classes() -> npt.NDArray[np.uint8]:
    # 0: not in a token, 1: word character, 2: CJK character (a token of its own).  Built from
    # the token pattern's classes over every code point (~40 ms, once), so it matches them exactly;
    # one plane at a time, so building it never holds more than this 1.1 MB table and 0.5 MB.
    table = np.zeros(0x110000, np.uint8)
    plane = 0x10000
    for start in range(0, table.size, plane):
        points = np.arange(start, start + plane, dtype="<u4").tobytes()
        chars = points.decode("utf-32-le", "surrogatepass")
        for value, pattern in ((1, _WORD_CHAR), (2, _CJK_CHAR)):
            for match in re.finditer(f"{pattern}+", chars):
                table[start + match.start() : start + match.end()] = value
    return table


def distinct(values: U32) -> U32:
    """The sorted distinct values: `np.unique(values)`, without its hashing pass (~8x faster on
    arrays of a few hundred ids, which is what every call here sees)."""
    ordered = np.sort(values)
    if ordered.size < 2:
        return ordered
    first = np.empty(ordered.size, dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    out: U32 = ordered[first]
    return out


def distinct_inverse(values: U32) -> tuple[U32, U32]:
    """(`distinct(values)`, the index in it of each value): `np.unique(values,
    return_inverse=True)`, computed once in the worker so that the exact check can map set
    membership back to text positions with one gather instead of a search per position."""
    order = np.argsort(values)  # any order among equal values gives the same result
    ordered = values[order]
    first = np.empty(ordered.size, dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(values.size, np.uint32)
    inverse[order] = np.cumsum(first, dtype=np.uint32) - np.uint32(1)
    out: U32 = ordered[first]
    return out, inverse


def mix64(values: U64) -> U64:
    """splitmix64 finaliser: spreads the bits of every value (array in, array out)."""
    z = values ^ (values >> np.uint64(30))
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def token_hashes(words: list[str]) -> U64:
    """One stable 64-bit hash per token."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    matrix = np.array(words)
    width = matrix.dtype.itemsize // 4
    points = matrix.view(np.uint32).reshape(len(words), width).astype(np.uint64)
    return mix64(points @ _CHAR_WEIGHTS[:width])


def folded_token_hashes(folded: str) -> U64:
    """`token_hashes(_TOKEN.findall(folded))`, without building the token strings."""
    return folded_tokens(folded)[0]


def folded_tokens(folded: str) -> tuple[U64, npt.NDArray[np.int64]]:
    """(token hashes, the line number of each token): lines are split at "\n"."""
    points = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), "<u4")
    kind = _char_classes().take(points)
    word = kind == 1
    # A token starts at a CJK character, at a word character after a non-word one, and every
    # _MAX_TOKEN characters into a run; characters outside tokens get the zero weight.
    starts = kind != 0
    starts[1:] &= ~(word[1:] & word[:-1])
    index = np.arange(points.size, dtype=np.int32)
    offset = index - np.maximum.accumulate(np.where(starts, index, 0))
    if offset.size and offset.max() >= _MAX_TOKEN:
        offset %= _MAX_TOKEN
    offset[kind == 0] = _MAX_TOKEN
    first = np.flatnonzero(offset == 0)
    if first.size == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    weighted = points.astype(np.uint64) * _CHAR_WEIGHTS_0.take(offset)
    lines = np.flatnonzero(points == 10).searchsorted(first)
    return mix64(np.add.reduceat(weighted, first)), lines


def shingle_ids(text: str, size: int = 5) -> U32:
    """The hashed word `size`-shingles of `text`, in text order (duplicates kept), as uint32.

    A text with fewer than `size` tokens gives one shingle of all its tokens (none if empty).
    """
    return folded_shingle_ids(fold(text), size)


def folded_shingle_ids(folded: str, size: int = 5) -> U32:
    """`shingle_ids` of a text already passed through `keys.fold()`."""
    return shingles_of_tokens(folded_token_hashes(folded), size)


def opening_tokens(hashed: U64, count: int = OPENING_TOKENS) -> U32:
    """The first `count` token hashes, 32 bits each: what the opening check compares."""
    return (hashed[:count] >> np.uint64(32)).astype(np.uint32)


def shingles_of_tokens(hashed: U64, size: int = 5) -> U32:
    """The hashed `size`-shingles of a sequence of token hashes (see `shingle_ids`)."""
    if hashed.size == 0:
        return np.zeros(0, dtype=np.uint32)
    size = max(1, min(size, hashed.size, _POS_WEIGHTS.size))
    count = hashed.size - size + 1
    combined = hashed[:count] * _POS_WEIGHTS[0]
    for offset in range(1, size):
        combined += hashed[offset : offset + count] * _POS_WEIGHTS[offset]
    return (mix64(combined) >> np.uint64(32)).astype(np.uint32)
