"""Pure: everything deduplication computes from an article's text alone, in one record.

`fingerprint(text, params)` folds the text once and derives from it: the content hash of the
event contract (`keys.content_hash`), the word tokens' hashes, the shingles (in text order and
as a sorted set, with the map between them), the MinHash signature and its LSH band keys, the
opening token hashes of the first-pair rule (`verify.py`), one key per line for the boilerplate
rules (`boilerplate.py`), and the wire agency credited in the text (`syndication.from_text`).

The record is picklable and needs no state, so the extraction worker computes it in its own
process and attaches it to the article (`Article.fingerprint`); `Deduper.decide` uses it when
it describes exactly the article's text with the deduper's own parameters, and computes it
itself otherwise (replay, tests, a dedup stage fed from elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from daemon.dedup.boilerplate import line_keys, line_starts
from daemon.dedup.keys import fold, folded_content_hash
from daemon.dedup.minhash import MinHasher
from daemon.dedup.shingles import U32, U64, distinct_inverse, folded_tokens, opening_tokens
from daemon.dedup.shingles import shingles_of_tokens as shingles_of
from daemon.dedup.syndication import from_text

if TYPE_CHECKING:  # not imported at run time: settings pull in pydantic and the fetch stack,
    from daemon.settings import DedupSettings  # ~25 MB in every extraction worker


@dataclass(frozen=True, slots=True)
class FingerprintParams:
    """The settings a fingerprint depends on; a fingerprint made with others is not used."""

    shingle_size: int = 5
    num_perm: int = 64
    bands: int = 32

    @classmethod
    def of(cls, settings: DedupSettings, bands: int = 32) -> FingerprintParams:
        return cls(shingle_size=settings.shingle_size, num_perm=settings.num_perm, bands=bands)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What dedup knows of a text before it looks at any other document."""

    text: str  # the text described (decide() checks it is the article's)
    params: FingerprintParams
    content_hash: str  # keys.content_hash(text)
    shingles: U32  # hashed word shingles, in text order (repeats kept)
    distinct: U32  # the same, sorted and distinct
    inverse: U32  # index in `distinct` of each of `shingles` (distinct[inverse] == shingles)
    signature: U32  # MinHash of `distinct` (all-ones when it is empty)
    bands: U64  # LSH band keys of `signature`
    opening: U32  # first token hashes (shingles.opening_tokens)
    lines: U64  # one key per line that has tokens (boilerplate.line_keys)
    line_starts: npt.NDArray[np.int64]  # index of the first token of each of those lines
    n_tokens: int
    text_agency: str | None  # the agency a dateline or credit line names (syndication.from_text)


@cache
def hasher(num_perm: int, bands: int) -> MinHasher:
    """The MinHasher of these parameters (built once: its constants cost ~0.1 ms)."""
    return MinHasher(num_perm, bands)


def fingerprint(
    text: str,
    params: FingerprintParams = FingerprintParams(),
    *,
    folded: str | None = None,
    text_hash: str | None = None,
) -> Fingerprint:
    """The fingerprint of `text`.  `folded` (`keys.fold(text)`) and `text_hash`
    (`keys.content_hash(text)`) may pass what the caller computed already."""
    folded = fold(text) if folded is None else folded
    text_hash = folded_content_hash(folded) if text_hash is None else text_hash
    hashed, token_lines = folded_tokens(folded)
    starts = line_starts(token_lines)
    shingles = shingles_of(hashed, params.shingle_size)
    unique, inverse = distinct_inverse(shingles)
    minhash = hasher(params.num_perm, params.bands)
    signature = minhash.signature(unique, is_distinct=True)
    return Fingerprint(
        text=text,
        params=params,
        content_hash=text_hash,
        shingles=shingles,
        distinct=unique,
        inverse=inverse,
        signature=signature,
        bands=minhash.band_keys(signature),
        opening=opening_tokens(hashed),
        lines=line_keys(hashed, starts),
        line_starts=starts,
        n_tokens=int(hashed.size),
        text_agency=from_text(text),
    )
