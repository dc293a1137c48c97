"""A compact multimap from 64-bit keys to uint32 document slots (LSH buckets and exact keys).

Python dicts of tuples cost ~100 bytes per entry; this table costs 12 bytes per entry in steady
state.  It is a tiny log-structured merge tree:

    recent   dict {key: [slot, ...]}      the last few thousand inserts (cheap to add and remove)
    middle   sorted numpy keys + slots    merged from `recent` when it fills up
    main     sorted numpy keys + slots    merged from `middle` when it reaches a share of `main`

Lookups probe all three (one vectorised `searchsorted` per array level).  Slots of forgotten
documents are dropped at `rebuild()`; until then callers filter them out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from itertools import chain, repeat

import numpy as np
import numpy.typing as npt

from daemon.dedup.minhash import BAND_BITS
from daemon.dedup.shingles import U32, U64

I64 = npt.NDArray[np.int64]

KIND_URL = 0xF0
KIND_GUID = 0xF1
KIND_TEXT = 0xF2


def exact_key(kind: int, value: str) -> int:
    """A stable 64-bit key for an exact-match value (canonical URL, GUID, text hash)."""
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=7).digest()
    return (kind << BAND_BITS) | int.from_bytes(digest, "big")


def _merge(keys: U64, slots: U32, new_keys: U64, new_slots: U32) -> tuple[U64, U32]:
    # Both inputs sorted by key; np.insert at searchsorted positions is a linear merge.
    positions = np.searchsorted(keys, new_keys, side="right")
    return np.insert(keys, positions, new_keys), np.insert(slots, positions, new_slots)


def _probe(keys: U64, slots: U32, query: U64) -> list[tuple[int, U32]]:
    # (query index, its slots) for each query key present.  One left search for all, then a
    # right search only for the hits (usually none or a few of them).
    if keys.size == 0:
        return []
    low = keys.searchsorted(query)
    hit = np.flatnonzero(keys[np.minimum(low, keys.size - 1)] == query)
    if hit.size == 0:
        return []
    high = keys.searchsorted(query[hit], side="right")
    return [
        (i, slots[a:b])
        for i, a, b in zip(hit.tolist(), low[hit].tolist(), high.tolist(), strict=True)
    ]


def _gather(keys: U64, slots: U32, query: U64) -> U32:
    # Every slot stored under any query key, in a fixed number of vectorised steps: the run of
    # each key is [low, high); the runs' positions are laid end to end with one repeat.
    if keys.size == 0:
        return slots[:0]
    low = keys.searchsorted(query)
    lengths = keys.searchsorted(query, side="right") - low
    total = int(lengths.sum())
    if total == 0:
        return slots[:0]
    ends = np.cumsum(lengths)
    return slots[np.repeat(low - ends + lengths, lengths) + np.arange(total)]


class KeyTable:
    """uint64 key → uint32 slots; at most `recent_limit` entries live in the Python dict."""

    def __init__(self, recent_limit: int = 32_768, middle_share: float = 0.25) -> None:
        self._recent: dict[int, list[int]] = {}
        self._recent_entries = 0
        self._recent_limit = recent_limit
        self._middle_share = middle_share
        empty_k, empty_s = np.zeros(0, np.uint64), np.zeros(0, np.uint32)
        self._middle: tuple[U64, U32] = (empty_k, empty_s)
        self._main: tuple[U64, U32] = (empty_k.copy(), empty_s.copy())

    def __len__(self) -> int:
        return self._recent_entries + self._middle[0].size + self._main[0].size

    @property
    def nbytes(self) -> int:
        """Bytes held by the numpy levels (the dict level is bounded by `recent_limit`)."""
        return sum(a.nbytes for a in (*self._middle, *self._main))

    def add(self, keys: Iterable[int], slot: int) -> None:
        """Map each of `keys` to `slot` (duplicates of a key keep every slot)."""
        keys = list(keys)
        recent = self._recent
        unique = set(keys)
        if len(unique) == len(keys):
            # The usual case (a document's band and exact keys differ): new keys get their
            # one-slot lists in one C-level update; the order of keys within the dict does not
            # matter (flush sorts them, and each key's slots keep their order).
            present = recent.keys() & unique
            for key in present:
                recent[key].append(slot)
            recent.update(zip(unique - present, map(list, repeat((slot,))), strict=False))
        else:
            for key in keys:
                recent.setdefault(key, []).append(slot)
        self._recent_entries += len(keys)
        if self._recent_entries >= self._recent_limit:
            self.flush()

    def discard_recent(self, keys: Iterable[int], slot: int) -> None:
        """Forget `slot` under `keys` if still in the dict level (older levels: filter it)."""
        for key in keys:
            bucket = self._recent.get(key)
            if bucket is not None and slot in bucket:
                bucket.remove(slot)
                self._recent_entries -= 1
                if not bucket:
                    del self._recent[key]

    def lookup(self, keys: U64) -> U32:
        """All slots stored under any of `keys` (with repeats: one per matching key)."""
        recent = self._recent
        in_recent = [s for k in keys.tolist() if k in recent for s in recent[k]]
        return np.concatenate(
            (
                np.array(in_recent, np.uint32),
                _gather(*self._middle, keys),
                _gather(*self._main, keys),
            )
        )

    def lookup_each(self, keys: U64) -> list[U32]:
        """The slots stored under each of `keys`, one array per key (in the order given)."""
        recent = self._recent
        per_key: list[list[int]] = [list(recent.get(k, ())) for k in keys.tolist()]
        for i, found in _probe(*self._middle, keys) + _probe(*self._main, keys):
            per_key[i] += found.tolist()
        return [np.array(slots, np.uint32) for slots in per_key]

    def bulk_load(self, keys: U64, slots: U32) -> None:
        """Add many entries at once (start-up): one sort, straight into the main level."""
        order = np.argsort(keys, kind="stable")
        self._main = _merge(*self._main, keys[order], slots[order])

    def flush(self) -> None:
        """Move the dict level into the sorted levels."""
        if self._recent:
            # Columns straight from the dict (no per-entry tuples): keys repeated per slot.
            buckets = list(self._recent.values())
            sizes = np.fromiter(map(len, buckets), np.int64, len(buckets))
            keys = np.fromiter(self._recent.keys(), np.uint64, len(buckets)).repeat(sizes)
            slots = np.fromiter(chain.from_iterable(buckets), np.uint32, int(sizes.sum()))
            order = np.argsort(keys, kind="stable")
            self._middle = _merge(*self._middle, keys[order], slots[order])
            self._recent.clear()
            self._recent_entries = 0
        if self._middle[0].size > max(self._recent_limit, self._middle_share * self._main[0].size):
            self._main = _merge(*self._main, *self._middle)
            self._middle = (np.zeros(0, np.uint64), np.zeros(0, np.uint32))

    def rebuild(self, mapping: I64) -> None:
        """Renumber slots with `mapping[old] = new` (-1: drop) and merge all levels into main."""
        self.flush()
        keys = np.concatenate([self._main[0], self._middle[0]])
        slots = mapping[np.concatenate([self._main[1], self._middle[1]])]
        keep = slots >= 0
        self._middle = (np.zeros(0, np.uint64), np.zeros(0, np.uint32))
        self._main = (np.zeros(0, np.uint64), np.zeros(0, np.uint32))
        self.bulk_load(keys[keep], slots[keep].astype(np.uint32))
