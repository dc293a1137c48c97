"""The dedup index's life cycle: reserve → commit, or reserve → abandon; expiry and compaction."""

from __future__ import annotations

import uuid

import numpy as np

from daemon.dedup.index import DedupIndex, DocRecord, Sequences
from daemon.dedup.minhash import MinHasher

_SEQ = Sequences(np.arange(30, dtype=np.uint32), None)


def record(n: int, cluster: int | None = None, seen_at: float = 100.0) -> DocRecord:
    eid = str(uuid.UUID(int=n))
    cid = eid if cluster is None else str(uuid.UUID(int=cluster))
    signature = np.random.default_rng(n).integers(0, 2**32, 64, dtype=np.uint32)
    return DocRecord(eid, cid, seen_at, 1000 + n, None, 2000 + n, 1, None, 30, signature)


def test_reserved_document_is_found_until_abandoned() -> None:
    """A reserved document is found by its keys and its signature; abandoned, it is not."""
    index = DedupIndex(MinHasher(64, 32))
    doc = record(1)
    slot = index.reserve(doc, _SEQ)
    assert index.exact([doc.url_key, doc.text_key]) == (slot, slot)
    assert [c.slot for c in index.candidates(doc.signature, 30, 20)] == [slot]  # type: ignore[arg-type]
    assert index.pending_sequences(doc.event_id) is _SEQ
    assert index.abandon(doc.event_id) is not None
    assert index.exact([doc.url_key, doc.text_key]) == (None, None)
    assert index.candidates(doc.signature, 30, 20) == []  # type: ignore[arg-type]
    assert (index.pending_count, index.alive, index.abandon(doc.event_id)) == (0, 0, None)


def test_commit_ends_the_reservation_once() -> None:
    """commit() returns what was reserved, once; the document stays found, and expires later."""
    index = DedupIndex(MinHasher(64, 32))
    doc = record(1)
    index.reserve(doc, _SEQ)
    committed = index.commit(doc.event_id)
    assert committed is not None and committed.record == doc
    assert index.commit(doc.event_id) is None and index.abandon(doc.event_id) is None
    assert index.exact([doc.url_key, doc.text_key])[1] is not None
    assert index.expire(cutoff=200.0) == 1
    assert index.exact([doc.url_key, doc.text_key]) == (None, None)


def test_a_joined_copy_grows_its_cluster_until_abandoned() -> None:
    """A copy reserved as joined grows its cluster; abandoning it shrinks the cluster back."""
    index = DedupIndex(MinHasher(64, 32))
    original, copy, other = record(1), record(2, cluster=1), record(3, cluster=1)
    index.reserve(original, _SEQ)
    index.reserve(copy, _SEQ, joined=True)
    index.reserve(other, _SEQ, joined=True)
    assert index.cluster_size(original.event_id) == 3
    index.abandon(copy.event_id)
    index.commit(other.event_id)
    assert index.cluster_size(original.event_id) == 2
    index.abandon(other.event_id)  # committed already: nothing to take back
    assert index.cluster_size(original.event_id) == 2


def test_pending_documents_survive_compaction() -> None:
    """Compaction renumbers slots; a reservation made before it still commits the right one."""
    index = DedupIndex(MinHasher(64, 32))
    old = [record(n, seen_at=1.0) for n in range(1, 2001)]
    index.bulk_load(old)
    doc = record(5000, seen_at=500.0)
    index.reserve(doc, _SEQ)
    index.expire(cutoff=100.0)  # 2,000 dead of 2,001: compacts
    assert index.size == 1
    pending = index.commit(doc.event_id)
    assert pending is not None and pending.slot == 0
    assert index.exact([doc.url_key, doc.text_key]) == (0, 0)
    assert index.expire(cutoff=100.0) == 0  # committed, but recent
