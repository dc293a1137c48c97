"""Pure: boilerplate learned from the stream, per site and overall.

A line (a paragraph of the extracted text) that new stories keep repeating, such as a site's
footer, a newsletter blurb, a disclaimer or a press-release "About" block, says nothing about
which story a text tells.  Lines are counted per site (the host of its canonical URL) for every
document of the site (new or repost, except exact copies and revisions: a site rarely posts one
story at several URLs, so a line on many of its pages is its template), and overall for new
stories only (the first of a cluster: a widely syndicated story must not look like
boilerplate because it is everywhere).  A line counted in at least
`site_stories` stories of the same site, or `stories` stories overall, is boilerplate: the
shingles that lie wholly inside boilerplate lines weigh nothing in the exact check
(`Deduper._near`).

Counts live in a count-min sketch (numpy, `depth` rows of 2**`width_bits` saturating bytes,
8 MiB by default): constant memory, never an undercount.  To keep false counts rare the sketch
halves every counter once a quarter of a row's width has been added since the last halving, so
old boilerplate fades out and must be seen again.  Updates happen at decision time, in decision
order, so the same input gives the same decisions; `forget()` takes back a story that was never
published.  The sketch is not persisted: after a restart, boilerplate is learned again (the
structural rule in `verify.py` covers the first pairs meanwhile).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from daemon.dedup.shingles import U64, constants, mix64

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Observed:
    """What one `Boilerplate.observe()` counted: a document's line keys, for its site, and
    overall too when it was a new story."""

    site: str
    lines: U64
    overall: bool


def line_starts(lines: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Index of the first token of each line, given each token's line number (non-decreasing)."""
    if lines.size == 0:
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.concatenate(([True], lines[1:] != lines[:-1])))


def line_keys(hashed: U64, starts: npt.NDArray[np.int64]) -> U64:
    """One key per line that has tokens: its token hashes summed, and its token count."""
    if hashed.size == 0:
        return np.zeros(0, np.uint64)
    counts = np.diff(np.append(starts, hashed.size)).astype(np.uint64)
    return mix64(np.add.reduceat(hashed, starts) + counts)


def token_line_index(starts: npt.NDArray[np.int64], tokens: int) -> npt.NDArray[np.int64]:
    """For each of `tokens` tokens, the index of its line in `line_keys`."""
    marks = np.zeros(tokens, np.int64)
    marks[starts[1:]] = 1
    return np.cumsum(marks)


@lru_cache(maxsize=4096)
def site_key(site: str) -> np.uint64:
    """A stable 64-bit key of a site name (cached: a few sites publish most articles)."""
    return np.uint64(int.from_bytes(hashlib.blake2b(site.encode(), digest_size=8).digest(), "big"))


def shingle_mask(token_mask: Mask, size: int, count: int) -> Mask:
    """Which of `count` shingles (of `size` tokens, in order) lie wholly in masked tokens."""
    if count == 0:
        return np.zeros(0, dtype=bool)
    size = min(size, token_mask.size)
    outside = np.concatenate(([0], np.cumsum(~token_mask)))
    inside: Mask = (outside[size : size + count] - outside[:count]) == 0
    return inside


class Boilerplate:
    """Counts of lines in new stories, per site and overall (see the module docstring)."""

    def __init__(
        self, *, site_stories: int = 3, stories: int = 5, width_bits: int = 22, depth: int = 2
    ) -> None:
        self.site_stories = site_stories
        self.stories = stories
        self._shift = np.uint64(64 - width_bits)
        self._table = np.zeros((depth, 1 << width_bits), np.uint8)
        self._salts = constants("newsd.boilerplate.salt", depth)
        self._rows = np.arange(depth)[:, None]
        self._added = 0

    @property
    def nbytes(self) -> int:
        return int(self._table.nbytes)

    def observe(
        self, site: str, lines: U64, *, overall: bool, slots: npt.NDArray[np.int64] | None = None
    ) -> None:
        """A document of `site` with these line keys was decided (`overall`: a new story).
        `slots` may pass `self.slots(site, lines)` when the caller has it."""
        if slots is None:
            slots = self._slots(self._keys(site, lines, overall=overall))
        elif not overall:
            slots = slots[:, lines.size :]  # the per-site half
        cells = self._table[self._rows, slots]
        self._table[self._rows, slots] = np.where(cells < 255, cells + 1, cells)
        self._added += slots.shape[1]
        if self._added * 4 >= self._table.shape[1]:
            self._table >>= 1
            self._added = 0

    def forget(self, site: str, lines: U64, *, overall: bool) -> None:
        """Take back `observe(site, lines, overall=overall)` (it was never published)."""
        slots = self._slots(self._keys(site, lines, overall=overall))
        cells = self._table[self._rows, slots]
        self._table[self._rows, slots] = np.where(cells > 0, cells - 1, cells)

    def mask(self, site: str, lines: U64, slots: npt.NDArray[np.int64] | None = None) -> Mask:
        """Which of `lines` are boilerplate (seen in enough other stories).  `slots` may pass
        `self.slots(site, lines)` when the caller has it."""
        if lines.size == 0:
            return np.zeros(0, dtype=bool)
        if slots is None:
            slots = self.slots(site, lines)
        counts = self._table[self._rows, slots].min(axis=0)
        overall, per_site = counts[: lines.size], counts[lines.size :]
        found: Mask = (overall >= self.stories) | (per_site >= self.site_stories)
        return found

    def slots(self, site: str, lines: U64) -> npt.NDArray[np.int64]:
        """The counters of `lines` (overall, then for `site`): what `mask` and `observe` read
        and write, for a caller that does both on one document."""
        return self._slots(self._keys(site, lines))

    def _keys(self, site: str, lines: U64, *, overall: bool = True) -> U64:
        # Overall keys, then the same lines keyed by site (in the same order: `mask` splits them).
        per_site = mix64(lines ^ site_key(site))
        return np.concatenate((lines, per_site)) if overall else per_site

    def _slots(self, keys: U64) -> npt.NDArray[np.int64]:
        # Keys are mixed already: multiply-shift by an odd salt per row is enough.
        return ((keys[None, :] * self._salts[:, None]) >> self._shift).astype(np.int64)
