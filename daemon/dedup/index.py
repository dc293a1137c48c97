"""The dedup index: what is known about every document seen within the window.

In memory (about 0.7 KB per document, see `bench/dedup_speed.py`), in parallel numpy arrays
indexed by a slot number:

    signature   num_perm x uint32   MinHash, for estimating similarity of LSH candidates
    event_id    16 bytes            the document's event id (UUID bytes)
    cluster_id  16 bytes            the event id of its cluster's original
    seen_at, text_key, n_shingles, revision, state (dead / pending / committed)

plus one `KeyTable` mapping LSH band keys and exact keys (canonical URL, feed GUID, text hash)
to slots.  Cluster sizes and agencies live in small dicts holding only clusters with more than
one copy or a known agency.  Shingle sequences (for the exact check of candidates) are kept in
SQLite, in memory for pending documents, and in a byte-capped cache of recent ones (`cache.py`).

Life cycle of a document, behind named operations (the index is the only place that keeps it):

    reserve()   decided, not yet published: PENDING, found by later decisions, cluster grown
    commit()    the broker acknowledged its event: COMMITTED (the caller writes it to SQLite)
    abandon()   never published: DEAD, its keys dropped, its cluster shrunk back
    expire()    older than the window: DEAD (committed documents only)

Durable copy: the `dedup_docs` and `dedup_clusters` tables of the SQLite `Store`; `load()`
reads them and `restore()` rebuilds the memory part from them in a few vectorised steps.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from daemon.dedup.boilerplate import Observed
from daemon.dedup.lsh import KeyTable
from daemon.dedup.minhash import MinHasher
from daemon.dedup.shingles import U32, U64, distinct

DEAD: Final = 0
PENDING: Final = 1
COMMITTED: Final = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS dedup_docs (
    event_id   TEXT PRIMARY KEY,
    cluster_id TEXT NOT NULL,
    seen_at    REAL NOT NULL,
    url_key    INTEGER NOT NULL,
    guid_key   INTEGER,
    text_key   INTEGER NOT NULL,
    revision   INTEGER NOT NULL,
    agency     TEXT,
    n_shingles INTEGER NOT NULL,
    signature  BLOB,
    shingles   BLOB,
    opening    BLOB
);
CREATE INDEX IF NOT EXISTS dedup_docs_seen ON dedup_docs (seen_at);
CREATE TABLE IF NOT EXISTS dedup_clusters (
    cluster_id TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    agency     TEXT,
    seen_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dedup_clusters_seen ON dedup_clusters (seen_at);
"""


@dataclass(frozen=True, slots=True)
class DocRecord:
    """One document as the index (and its table) knows it."""

    event_id: str
    cluster_id: str
    seen_at: float
    url_key: int
    guid_key: int | None
    text_key: int
    revision: int
    agency: str | None
    n_shingles: int  # distinct shingles; below `min_shingles` the document has no signature
    signature: U32 | None


@dataclass(frozen=True, slots=True)
class Sequences:
    """What the exact check reads of a document: its shingles and its opening token hashes
    (None for documents stored before openings were kept)."""

    shingles: U32
    opening: U32 | None

    @property
    def nbytes(self) -> int:
        return self.shingles.nbytes + (0 if self.opening is None else self.opening.nbytes)


@dataclass(frozen=True, slots=True)
class Pending:
    """A reserved document, until `commit()` or `abandon()`: what either needs to finish it."""

    slot: int
    record: DocRecord
    sequences: Sequences
    joined: bool  # it grew its cluster (a duplicate): abandoning it shrinks the cluster back
    observed: Observed | None  # boilerplate line counts it added (taken back when abandoned)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An LSH candidate with its estimated similarity."""

    slot: int
    event_id: str
    estimated_jaccard: float
    estimated_containment: float


def _uuid_bytes(text: str) -> bytes:
    # Event ids are canonical UUID strings (str(uuid.uuid5(...))); 4x faster than uuid.UUID().
    raw = bytes.fromhex(text.replace("-", ""))
    if len(raw) != 16:
        raise ValueError(f"not a UUID: {text!r}")
    return raw


def _uuid_text(raw: bytes) -> str:
    """str(uuid.UUID(bytes=raw)), without building the UUID object."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _signed(key: int) -> int:
    return key - (1 << 64) if key >= 1 << 63 else key


def _unsigned(key: int) -> int:
    return key + (1 << 64) if key < 0 else key


class DedupIndex:
    """Slots of documents (pending or committed) and the keys that find them."""

    def __init__(self, hasher: MinHasher, *, recent_limit: int = 32_768) -> None:
        self.hasher = hasher
        self.keys = KeyTable(recent_limit=recent_limit)
        self.size = 0  # slots used (alive or dead)
        self.dead = 0
        self._alloc(1024)
        self._cluster_sizes: dict[str, int] = {}  # clusters with more than one copy
        self._cluster_agencies: dict[str, str] = {}  # clusters with a known wire agency
        self._pending: dict[str, Pending] = {}  # event id → reserved document
        self._last_bands: tuple[U32, U64] | None = None

    def _alloc(self, capacity: int) -> None:
        fields = self._fields()
        self._signature = np.zeros((capacity, self.hasher.num_perm), np.uint32)
        self._ids = np.zeros((capacity, 2, 16), np.uint8)  # [event_id, cluster_id]
        self._seen_at = np.zeros(capacity, np.float64)
        self._text_key = np.zeros(capacity, np.uint64)
        self._n_shingles = np.zeros(capacity, np.uint32)
        self._revision = np.zeros(capacity, np.uint16)
        self._state = np.zeros(capacity, np.uint8)
        for name, old in fields.items():
            getattr(self, name)[: self.size] = old[: self.size]

    def _fields(self) -> dict[str, npt.NDArray[Any]]:
        names = ("_signature", "_ids", "_seen_at", "_text_key", "_n_shingles", "_revision",
                 "_state")  # fmt: skip
        return {n: getattr(self, n) for n in names if hasattr(self, n)}

    @property
    def capacity(self) -> int:
        return int(self._state.size)

    @property
    def alive(self) -> int:
        return self.size - self.dead

    @property
    def pending_count(self) -> int:
        """Documents reserved and neither committed nor abandoned yet."""
        return len(self._pending)

    def nbytes(self) -> int:
        """Bytes of the numpy arrays (slot arrays at capacity, plus the key table levels)."""
        return sum(a.nbytes for a in self._fields().values()) + self.keys.nbytes

    # -- life cycle ---------------------------------------------------------------------------

    def reserve(
        self,
        record: DocRecord,
        sequences: Sequences,
        *,
        joined: bool = False,
        observed: Observed | None = None,
        bands: U64 | None = None,
    ) -> int:
        """Register a decided document as PENDING; returns its slot.

        `joined`: it is a copy in another document's cluster, which grows by one.  `observed`
        is kept to be taken back if it is abandoned; `bands` may pass the signature's band keys
        when the caller has them.
        """
        slot = self._add(record, PENDING, bands)
        if joined:
            self._cluster_sizes[record.cluster_id] = self.cluster_size(record.cluster_id) + 1
        self._pending[record.event_id] = Pending(slot, record, sequences, joined, observed)
        return slot

    def commit(self, event_id: str) -> Pending | None:
        """The document's event was acknowledged: COMMITTED.  None if it is not pending."""
        pending = self._pending.pop(event_id, None)
        if pending is not None and self._state[pending.slot] == PENDING:
            self._state[pending.slot] = COMMITTED
        return pending

    def abandon(self, event_id: str) -> Pending | None:
        """The document was never published: forgotten, its cluster shrunk back.  None if it is
        not pending."""
        pending = self._pending.pop(event_id, None)
        if pending is None:
            return None
        if self._state[pending.slot] != DEAD:
            self._state[pending.slot] = DEAD
            self.dead += 1
        record = pending.record
        self.keys.discard_recent([*_exact_keys(record), *self._band_keys(record)], pending.slot)
        if pending.joined:
            size = self.cluster_size(record.cluster_id) - 1
            if size > 1:
                self._cluster_sizes[record.cluster_id] = size
            else:
                self._cluster_sizes.pop(record.cluster_id, None)
        return pending

    def pending_sequences(self, event_id: str) -> Sequences | None:
        """The sequences of a reserved document (None if it is not pending)."""
        pending = self._pending.get(event_id)
        return None if pending is None else pending.sequences

    def add(self, record: DocRecord, *, state: int = PENDING) -> int:
        """Register a document in `state` outside the life cycle (benchmarks); returns its slot."""
        return self._add(record, state, None)

    def _add(self, record: DocRecord, state: int, bands: U64 | None) -> int:
        if self.size == self.capacity:
            self._alloc(self.capacity + max(1024, self.capacity // 4))
        slot = self.size
        self.size += 1
        self._store(slot, record, state)
        band_keys: list[int] = [] if bands is None else bands.tolist()
        self.keys.add([*_exact_keys(record), *(band_keys or self._band_keys(record))], slot)
        return slot

    def _store(self, slot: int, record: DocRecord, state: int) -> None:
        if record.signature is not None:
            self._signature[slot] = record.signature
        self._ids[slot, 0] = np.frombuffer(_uuid_bytes(record.event_id), np.uint8)
        self._ids[slot, 1] = np.frombuffer(_uuid_bytes(record.cluster_id), np.uint8)
        self._seen_at[slot] = record.seen_at
        self._text_key[slot] = record.text_key
        self._n_shingles[slot] = record.n_shingles
        self._revision[slot] = record.revision
        self._state[slot] = state
        if record.agency is not None:
            self._cluster_agencies.setdefault(record.cluster_id, record.agency)

    def _band_keys(self, record: DocRecord) -> list[int]:
        if record.signature is None:
            return []
        keys: list[int] = self._bands(record.signature).tolist()
        return keys

    def _bands(self, signature: U32) -> U64:
        # candidates() and then add() ask for the same signature object's keys: computed once.
        # Signatures are never modified in place, and holding the last one keeps its id unique.
        last = self._last_bands
        if last is None or last[0] is not signature:
            last = self._last_bands = (signature, self.hasher.band_keys(signature))
        return last[1]

    # -- what a decision reads ----------------------------------------------------------------

    def event_id(self, slot: int) -> str:
        return _uuid_text(self._ids[slot, 0].tobytes())

    def cluster_id(self, slot: int) -> str:
        return _uuid_text(self._ids[slot, 1].tobytes())

    def text_key(self, slot: int) -> int:
        return int(self._text_key[slot])

    def revision(self, slot: int) -> int:
        return int(self._revision[slot])

    def cluster_size(self, cluster_id: str) -> int:
        """Documents in the cluster (pending ones included); 1 for a cluster of one."""
        return self._cluster_sizes.get(cluster_id, 1)

    def cluster_agency(self, cluster_id: str) -> str | None:
        """The wire agency the cluster is credited to, if known."""
        return self._cluster_agencies.get(cluster_id)

    def latest(self, key: int) -> int | None:
        """The newest live slot registered under an exact key, if any."""
        return self.latest_each([key])[0]

    def latest_each(self, keys: list[int]) -> list[int | None]:
        """`latest(key)` for each of `keys`, in one lookup."""
        found = self.keys.lookup_each(np.array(keys, np.uint64))
        state = self._state  # a few slots per key: plain indexing costs less than numpy calls
        return [
            max((s for s in slots.tolist() if state[s] != DEAD), default=None) for slots in found
        ]

    def exact(self, keys: list[int]) -> tuple[int | None, int | None]:
        """(the newest live slot with the URL key, else with the feed GUID key; the newest live
        slot with the text key), for `keys` = [URL key, text key] or [URL, text, GUID key]."""
        by_url, same_text, *by_guid = self.latest_each(keys)
        previous = by_url if by_url is not None or not by_guid else by_guid[0]
        return previous, same_text

    def candidates(
        self,
        signature: U32,
        n_shingles: int,
        min_shingles: int,
        limit: int | None = None,
        min_containment: float = 0.0,
        *,
        bands: U64 | None = None,
    ) -> list[Candidate]:
        """Live documents sharing at least one LSH band, best estimated similarity first.

        Estimates are computed for all candidates at once; only the best `limit` (all if None)
        with an estimated containment of at least `min_containment` are returned, ties kept in
        slot order.  `bands` may pass the signature's band keys when the caller has them.
        """
        found = self.keys.lookup(self._bands(signature) if bands is None else bands)
        slots = distinct(found)
        slots = slots[(self._state[slots] != DEAD) & (self._n_shingles[slots] >= min_shingles)]
        if slots.size == 0:
            return []
        # All candidates at once (tens of them through permissive bands): the same IEEE
        # operations, in the same order, as the plain per-candidate formulas.
        jaccard = np.count_nonzero(self._signature[slots] == signature, axis=1) / max(
            signature.size, 1
        )
        others = self._n_shingles[slots].astype(np.int64)
        shared = jaccard * (others + n_shingles) / (1 + jaccard)
        containment = np.minimum(1.0, shared / np.maximum(1, np.minimum(others, n_shingles)))
        kept = np.flatnonzero(containment >= min_containment)
        best = kept[np.argsort(-containment[kept], kind="stable")[:limit]]  # ties: slot order
        return [
            Candidate(slot, self.event_id(slot), j, c)
            for slot, j, c in zip(
                slots[best].tolist(),
                jaccard[best].tolist(),
                containment[best].tolist(),
                strict=True,
            )
        ]

    # -- window and start-up ------------------------------------------------------------------

    def expire(self, cutoff: float) -> int:
        """Forget every live document seen before `cutoff`; compacts when a quarter is dead."""
        # Pending documents are never expired: their fate is decided by commit or abandon.
        old = (self._state[: self.size] == COMMITTED) & (self._seen_at[: self.size] < cutoff)
        count = int(np.count_nonzero(old))
        self._state[: self.size][old] = DEAD
        self.dead += count
        if self.dead > max(1024, self.size // 4):
            self.compact()
        return count

    def compact(self) -> None:
        """Drop dead slots: renumber the live ones (order kept) and rebuild the key table."""
        live = self._state[: self.size] != DEAD
        mapping = np.where(live, np.cumsum(live) - 1, -1).astype(np.int64)
        for array in self._fields().values():
            kept = array[: self.size][live]
            array[: kept.shape[0]] = kept
        self.size = int(np.count_nonzero(live))
        self._state[self.size :] = DEAD
        self.dead = 0
        self.keys.rebuild(mapping)
        self._pending = {
            eid: replace(p, slot=int(mapping[p.slot])) for eid, p in self._pending.items()
        }

    def restore(self, records: list[DocRecord], clusters: list[tuple[Any, ...]]) -> None:
        """Start-up: committed documents and their clusters' sizes and agencies, as `load()`
        read them."""
        self.bulk_load(records)
        for cluster_id, size, agency in clusters:
            if size > 1:
                self._cluster_sizes[cluster_id] = size
            if agency:
                self._cluster_agencies[cluster_id] = agency

    def bulk_load(self, records: list[DocRecord]) -> None:
        """Start-up: add committed documents in one pass (keys sorted once)."""
        if not records:
            return
        start = self.size
        if start + len(records) > self.capacity:
            self._alloc(start + len(records) + 1024)
        keys: list[int] = []
        slots: list[int] = []
        for offset, record in enumerate(records):
            self._store(start + offset, record, COMMITTED)
            exact = _exact_keys(record)
            keys += exact
            slots += [start + offset] * len(exact)
        self.size = start + len(records)
        with_sig = [i for i, r in enumerate(records) if r.signature is not None]
        if with_sig:
            bands = self.hasher.band_keys(self._signature[[start + i for i in with_sig]])
            keys += bands.ravel().tolist()
            slots += np.repeat(np.array(with_sig) + start, self.hasher.bands).tolist()
        self.keys.bulk_load(np.array(keys, np.uint64), np.array(slots, np.uint32))


def _exact_keys(record: DocRecord) -> list[int]:
    # The order is the one `exact()` unpacks: URL, text, then the GUID when there is one.
    keys = [record.url_key, record.text_key]
    return keys if record.guid_key is None else [*keys, record.guid_key]


# --- the durable copy (run on the Store thread) ------------------------------------------


def create_tables(conn: sqlite3.Connection) -> None:
    """Create the tables (idempotent), statement by statement inside the caller's transaction.

    Not `Store.migrate()`: `executescript` commits the transaction `Store.run` opened.
    """
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(dedup_docs)")}
    if "opening" not in columns:  # a store written before openings were kept
        conn.execute("ALTER TABLE dedup_docs ADD COLUMN opening BLOB")


Committed = tuple[DocRecord, Sequences, int]  # a document, its sequences, its cluster's size


def save(conn: sqlite3.Connection, record: DocRecord, stored: Sequences, cluster_size: int) -> None:
    """Write one committed document and its cluster's size and agency."""
    save_many(conn, [(record, stored, cluster_size)])


def save_many(conn: sqlite3.Connection, committed: list[Committed]) -> None:
    """Write committed documents and their clusters' sizes and agencies, in order (the same
    rows as one `save` each, in two statements)."""
    conn.executemany(
        "INSERT OR REPLACE INTO dedup_docs (event_id, cluster_id, seen_at, url_key, guid_key,"
        " text_key, revision, agency, n_shingles, signature, shingles, opening)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [_doc_row(record, stored) for record, stored, _ in committed],
    )
    conn.executemany(
        "INSERT INTO dedup_clusters VALUES (?,?,?,?) ON CONFLICT (cluster_id) DO UPDATE SET"
        " size = max(size, excluded.size), agency = coalesce(agency, excluded.agency),"
        " seen_at = excluded.seen_at",
        [(r.cluster_id, size, r.agency, r.seen_at) for r, _, size in committed],
    )


def _doc_row(record: DocRecord, stored: Sequences) -> tuple[Any, ...]:
    signature = None if record.signature is None else record.signature.tobytes()
    opening = None if stored.opening is None else stored.opening.astype("<u4").tobytes()
    return (
        record.event_id, record.cluster_id, record.seen_at, _signed(record.url_key),
        None if record.guid_key is None else _signed(record.guid_key),
        _signed(record.text_key), record.revision, record.agency, record.n_shingles,
        signature, stored.shingles.astype("<u4").tobytes(), opening,
    )  # fmt: skip


def load(conn: sqlite3.Connection, cutoff: float) -> tuple[list[DocRecord], list[tuple[Any, ...]]]:
    """Documents and clusters seen at or after `cutoff`, oldest first."""
    rows = conn.execute(
        "SELECT event_id, cluster_id, seen_at, url_key, guid_key, text_key, revision, agency,"
        " n_shingles, signature FROM dedup_docs WHERE seen_at >= ? ORDER BY seen_at, rowid",
        (cutoff,),
    ).fetchall()
    clusters = conn.execute(
        "SELECT cluster_id, size, agency FROM dedup_clusters WHERE seen_at >= ?", (cutoff,)
    ).fetchall()
    return [_record(row) for row in rows], clusters


def _record(row: tuple[Any, ...]) -> DocRecord:
    eid, cid, seen, url, guid, text, rev, agency, count, sig = row
    return DocRecord(
        event_id=eid, cluster_id=cid, seen_at=seen, url_key=_unsigned(url),
        guid_key=None if guid is None else _unsigned(guid), text_key=_unsigned(text),
        revision=rev, agency=agency, n_shingles=count,
        signature=None if sig is None else np.frombuffer(sig, "<u4").astype(np.uint32),
    )  # fmt: skip


def load_shingles(conn: sqlite3.Connection, event_ids: list[str]) -> dict[str, Sequences]:
    """The stored sequences of committed documents, by event id (forgotten: absent)."""
    # Only "?" placeholders are formatted into the statement; the ids are bound parameters.
    marks = ",".join("?" * len(event_ids))
    query = f"SELECT event_id, shingles, opening FROM dedup_docs WHERE event_id IN ({marks})"  # noqa: S608
    rows = conn.execute(query, event_ids).fetchall()
    return {
        eid: Sequences(_u32(blob), None if opening is None else _u32(opening))
        for eid, blob, opening in rows
        if blob is not None
    }


def _u32(blob: bytes) -> U32:
    return np.frombuffer(blob, "<u4").astype(np.uint32)


def delete_older(conn: sqlite3.Connection, cutoff: float) -> int:
    """Forget documents and clusters last seen before `cutoff`; returns documents deleted."""
    deleted = conn.execute("DELETE FROM dedup_docs WHERE seen_at < ?", (cutoff,)).rowcount
    conn.execute("DELETE FROM dedup_clusters WHERE seen_at < ?", (cutoff,))
    return int(deleted)
