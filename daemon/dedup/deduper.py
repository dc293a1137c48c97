"""The dedup stage: `verdict = await deduper.decide(article)`, then `commit` or `release`.

Decisions, in order (the first that applies wins):

    same canonical URL, or same GUID from the same feed, same text   → Skip("unchanged")
    same canonical URL (or same feed GUID), changed text             → updated (revision + 1)
    same normalized text at another URL                              → duplicate, similarity 1.0
    near-duplicate of a live document (LSH + exact check)            → duplicate of its cluster
    otherwise                                                        → new (its own cluster)

At-least-once: `decide()` registers the document as PENDING in memory, so a second copy that
arrives before the first is acknowledged is still recognised.  The pipeline calls `commit()`
only after the broker acknowledged the event; only then is the document written to SQLite.
`commit()` does not wait for the disk: it queues the document and, unless a write is queued
already, a write job on the store's single thread, which takes every document committed until
it starts and writes them in one transaction.  The thread runs jobs in submission order, so the
document is on disk before any state the pipeline stores after `commit()` returned (the feed
cursor that says "done"): a crash in between re-fetches and re-decides the article, it never
loses it.  `flush()` (and `close()`) wait for the queued writes.
`release()` forgets a pending document that was never published.  A crash loses only pending
documents, so it never turns an unsent article into a duplicate of itself.

Work is done only as needed: the keys first (an unchanged re-fetch ends there), then the text's
fingerprint (shingles, MinHash, line keys, agency: `fingerprint.py`), which the extraction
worker usually computed already (`Article.fingerprint`).  The pending / committed / dead life
cycle of documents is the index's (`DedupIndex.reserve`, `commit`, `abandon`).

Memory: besides the index, the shingle sequences of recently committed documents stay in a
least-recently-used cache capped at `shingle_cache_bytes` (default 64 MiB, about 25,000 documents
of 600 words), so the exact check of a recent candidate needs no SQLite read; the rest are read in
one query per decision.

Concurrency: the pipeline calls `decide()` from a single task, so decisions are sequential and
consistent (a lock enforces it anyway); `commit()`/`release()` may run from another task.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import structlog

from daemon.dedup import index as idx
from daemon.dedup.boilerplate import Boilerplate, Observed, shingle_mask, token_line_index
from daemon.dedup.cache import ShingleCache
from daemon.dedup.fingerprint import Fingerprint, FingerprintParams, fingerprint, hasher
from daemon.dedup.index import DedupIndex, DocRecord, Sequences
from daemon.dedup.keys import content_hash, event_id, fold, folded_content_hash
from daemon.dedup.lsh import KIND_GUID, KIND_TEXT, KIND_URL, exact_key
from daemon.dedup.shingles import U32, distinct
from daemon.dedup.syndication import from_authors, normalize_agency
from daemon.dedup.verify import RepostRule, members, overlap
from daemon.errors import Skip
from daemon.records import Article, Verdict
from daemon.settings import DedupSettings
from daemon.state.sqlite import Store

log = structlog.get_logger(__name__)

_DAY = 86_400.0
_EXPIRE_EVERY = 60.0  # seconds of clock between window sweeps
_MAX_VERIFIED = 8  # exact checks per decision at most (best estimated candidates first)


@dataclass(slots=True)
class _Doc:
    """What `decide()` works out about the incoming article (scratch, filled step by step)."""

    article: Article
    event_id: str
    text_hash: str  # keys.content_hash of the text
    keys: list[int]  # exact keys: URL, text, and the feed GUID when there is one
    seen_at: float
    folded: str | None = None  # keys.fold(text), when computed here
    fingerprint: Fingerprint | None = None  # set by `_describe` (or attached by extraction)
    agency: str | None = None  # set by `_describe`
    site: str | None = None  # `_site(article)`, once asked for
    line_slots: npt.NDArray[np.int64] | None = None  # its lines' boilerplate counters, likewise

    @property
    def fp(self) -> Fingerprint:
        assert self.fingerprint is not None, "described"
        return self.fingerprint


class Deduper:
    """Exact and near-duplicate detection with provenance, durable in the SQLite `Store`."""

    def __init__(
        self,
        settings: DedupSettings,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        bands: int = 32,
        rule: RepostRule | None = None,
        shingle_cache_bytes: int = 64 * 2**20,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.rule = rule or RepostRule(
            jaccard=settings.jaccard_threshold, containment=settings.containment_threshold
        )
        self.params = FingerprintParams.of(settings, bands)
        self.index = DedupIndex(hasher(settings.num_perm, bands))
        self.counts: Counter[str] = Counter()
        self.shingle_cache: ShingleCache[Sequences] = ShingleCache(
            shingle_cache_bytes
        )  # recent documents, for exact checks
        self.boilerplate = Boilerplate(
            site_stories=settings.boilerplate_site_stories, stories=settings.boilerplate_stories
        )
        self._lock = asyncio.Lock()
        # Committed documents wait here for the store thread, which writes all of them in one
        # transaction (see `commit`); `_unsaved_lock` guards the list and the flag across threads.
        self._unsaved: list[idx.Committed] = []
        self._unsaved_lock = threading.Lock()
        self._write_queued = False
        self._writes: set[asyncio.Future[int]] = set()
        self._next_expiry = 0.0

    @property
    def window(self) -> float:
        return self.settings.window_days * _DAY

    async def start(self) -> None:
        """Create the tables and load every document seen within the window."""
        await self.store.run(idx.create_tables)
        records, clusters = await self.store.run(
            lambda conn: idx.load(conn, self.clock() - self.window)
        )
        self.index.restore(records, clusters)
        log.info("dedup.loaded", documents=len(records), clusters=len(clusters))

    async def close(self) -> None:
        """Wait for the committed documents queued for SQLite; pending ones are lost."""
        await self.flush()

    async def flush(self) -> None:
        """Wait until every document committed so far is written (or its write failed)."""
        while self._writes:
            await asyncio.wait(set(self._writes))

    async def decide(self, article: Article) -> Verdict:
        """Decide about `article` and register it as pending; `Skip("unchanged")` for a re-fetch.

        Uses `article.fingerprint` when it describes the article's text with this deduper's
        parameters; computes the fingerprint otherwise.
        """
        async with self._lock:
            now = self.clock()
            await self._maybe_expire(now)
            doc = self._identify(article, now)
            verdict = await self._decide(doc)
            self._register(doc, verdict)
            self.counts[verdict.kind] += 1
            return verdict

    async def commit(self, article: Article, verdict: Verdict) -> None:
        """The event was acknowledged: persist the document (idempotent)."""
        eid = self._event_id_of(article, verdict)
        pending = self.index.commit(eid)
        if pending is None:
            return
        size = self.index.cluster_size(verdict.cluster_id)
        self.shingle_cache.put(eid, pending.sequences)
        self.counts["committed"] += 1
        with self._unsaved_lock:
            self._unsaved.append((pending.record, pending.sequences, size))
            queued, self._write_queued = self._write_queued, True
        if not queued:
            write = self.store.enqueue(self._write_unsaved)
            self._writes.add(write)
            write.add_done_callback(self._written)

    def _write_unsaved(self, conn: sqlite3.Connection) -> int:
        # On the store thread: every document committed since the last write, one transaction.
        with self._unsaved_lock:
            batch, self._unsaved = self._unsaved, []
            self._write_queued = False
        idx.save_many(conn, batch)
        return len(batch)

    def _written(self, write: asyncio.Future[int]) -> None:
        self._writes.discard(write)
        if write.cancelled():
            return
        if write.exception() is not None:
            self.counts["write_failed"] += 1
            log.error("dedup.write_failed", error=repr(write.exception()))
            return
        self.counts["written"] += write.result()
        self.counts["writes"] += 1

    async def release(self, article: Article, verdict: Verdict) -> None:
        """The event was never published: forget the pending document."""
        pending = self.index.abandon(self._event_id_of(article, verdict))
        if pending is None:
            return
        if pending.observed is not None:
            seen = pending.observed
            self.boilerplate.forget(seen.site, seen.lines, overall=seen.overall)
        self.counts["released"] += 1

    # -- decision steps -----------------------------------------------------------------------

    async def _decide(self, doc: _Doc) -> Verdict:
        # The fingerprint is computed only when needed: not for a re-fetch.
        previous, same_text = self._exact(doc)
        self._describe(doc)
        if previous is not None:
            return await self._updated(doc, previous)
        if same_text is not None:
            return self._duplicate(doc, same_text, 1.0)
        verdict = await self._near(doc)
        return verdict or Verdict(kind="new", cluster_id=doc.event_id, syndication=doc.agency,
                                  event_id=doc.event_id, content_hash=doc.text_hash)  # fmt: skip

    def _identify(self, article: Article, now: float) -> _Doc:
        """The document's keys (cheap); its fingerprint comes later, from `_describe`."""
        attached = self._attached(article)
        folded = None
        if attached is None:
            folded = fold(article.text)
            text_hash = folded_content_hash(folded)
        else:
            text_hash = attached.content_hash
        keys = [exact_key(KIND_URL, article.canonical_url), exact_key(KIND_TEXT, text_hash)]
        guid = article.entry.guid
        if guid:
            keys.append(exact_key(KIND_GUID, f"{article.entry.origin.id}\n{guid}"))
        eid = event_id(article.canonical_url, text_hash)
        return _Doc(article, eid, text_hash, keys, now, folded, attached)

    def _attached(self, article: Article) -> Fingerprint | None:
        """The article's fingerprint, if it describes its text with our parameters."""
        found = article.fingerprint
        if found is None or found.params != self.params or found.text != article.text:
            return None
        self.counts["fingerprint_attached"] += 1
        return found

    def _describe(self, doc: _Doc) -> None:
        """Give `doc` its fingerprint (unless it came with one) and its agency."""
        if doc.fingerprint is None:
            doc.fingerprint = fingerprint(doc.article.text, self.params, folded=doc.folded,
                                    text_hash=doc.text_hash)  # fmt: skip
        fields = doc.article.fields
        credited = fields.syndication
        doc.agency = (normalize_agency(credited) or credited or from_authors(fields.authors)
                      or doc.fingerprint.text_agency)  # fmt: skip

    def _signature(self, doc: _Doc) -> U32 | None:
        # Below min_shingles a text is matched exactly only: it has no signature in the index.
        fp = doc.fp
        return fp.signature if fp.distinct.size >= self.settings.min_shingles else None

    def _exact(self, doc: _Doc) -> tuple[int | None, int | None]:
        """(live slot with the same URL or feed GUID, live slot with the same text); raises
        `Skip("unchanged")` when the first has the same text."""
        previous, same_text = self.index.exact(doc.keys)
        if previous is not None and self.index.text_key(previous) == doc.keys[1]:
            self.counts["unchanged"] += 1
            raise Skip("unchanged")
        return previous, same_text

    async def _updated(self, doc: _Doc, previous: int) -> Verdict:
        cluster_id = self.index.cluster_id(previous)
        previous_id = self.index.event_id(previous)
        earlier = (await self._shingles([previous_id])).get(previous_id)
        similarity = (
            None
            if earlier is None
            else round(overlap(doc.fp.shingles, earlier.shingles).jaccard, 4)
        )
        verdict = Verdict(
            kind="updated",
            cluster_id=cluster_id,
            similarity=similarity,
            previous_similarity=similarity,
            cluster_size=self.index.cluster_size(cluster_id),
            revision=self.index.revision(previous) + 1,
            syndication=self.index.cluster_agency(cluster_id) or doc.agency,
            event_id=doc.event_id,
            content_hash=doc.text_hash,
        )
        log.info("dedup.updated", revision=verdict.revision, similarity=similarity)
        return verdict

    def _duplicate(self, doc: _Doc, match: int, similarity: float) -> Verdict:
        cluster_id = self.index.cluster_id(match)
        size = self.index.cluster_size(cluster_id) + 1  # reserve() grows it
        agency = self.index.cluster_agency(cluster_id) or doc.agency
        verdict = Verdict(kind="duplicate", cluster_id=cluster_id, duplicate_of=cluster_id,
                          similarity=round(similarity, 4), cluster_size=size, syndication=agency,
                          event_id=doc.event_id, content_hash=doc.text_hash)  # fmt: skip
        log.info("dedup.duplicate", duplicate_of=cluster_id, similarity=verdict.similarity,
                 cluster_size=size, syndication=agency)  # fmt: skip
        return verdict

    async def _near(self, doc: _Doc) -> Verdict | None:
        signature = self._signature(doc)
        if signature is None:
            return None
        fp = doc.fp
        # Past half the threshold (estimated), a candidate cannot pass the exact check.
        found = self.index.candidates(signature, int(fp.distinct.size), self.settings.min_shingles,
                                      _MAX_VERIFIED, self.rule.containment / 2,
                                      bands=fp.bands)  # fmt: skip
        if not found:
            return None
        sequences = await self._shingles([c.event_id for c in found])
        own, learned = self._without_boilerplate(doc)
        own_set = fp.distinct if learned is None else distinct(own)
        for candidate in found:
            other = sequences.get(candidate.event_id)
            if other is None:
                continue
            theirs = other.shingles
            if learned is not None:
                theirs = theirs[~members(theirs, learned)]
            inverse = fp.inverse if learned is None else None
            measured = overlap(own, theirs, own_set, (fp.opening, other.opening), inverse)
            if self.rule.accepts(measured):
                return self._duplicate(doc, candidate.slot, measured.similarity)
        return None

    def _without_boilerplate(self, doc: _Doc) -> tuple[U32, U32 | None]:
        """(the document's shingles outside learned boilerplate lines, the sorted distinct
        boilerplate shingles, or None when it has none)."""
        fp = doc.fp
        if fp.lines.size == 0:
            return fp.shingles, None
        lines = self.boilerplate.mask(self._site(doc), fp.lines, self._line_slots(doc))
        if not lines.any():
            return fp.shingles, None
        token_line = token_line_index(fp.line_starts, fp.n_tokens)
        inside = shingle_mask(lines[token_line], self.settings.shingle_size, fp.shingles.size)
        return fp.shingles[~inside], distinct(fp.shingles[inside])

    async def _shingles(self, eids: list[str]) -> dict[str, Sequences]:
        """Stored sequences by event id: pending and cached in memory, the rest in one query."""
        found: dict[str, Sequences] = {}
        missing: list[str] = []
        for eid in eids:
            sequence = self.index.pending_sequences(eid) or self.shingle_cache.get(eid)
            if sequence is None:
                missing.append(eid)
            else:
                found[eid] = sequence
        if missing:
            loaded = await self.store.run(lambda conn: idx.load_shingles(conn, missing))
            for eid, sequence in loaded.items():
                self.shingle_cache.put(eid, sequence)
            found.update(loaded)
        return found

    def _register(self, doc: _Doc, verdict: Verdict) -> None:
        fp, kind = doc.fp, verdict.kind
        observed = None
        if (kind == "new" or verdict.similarity != 1.0) and kind != "updated" and fp.lines.size:
            observed = Observed(self._site(doc), fp.lines, overall=kind == "new")
            self.boilerplate.observe(observed.site, observed.lines, overall=observed.overall,
                                     slots=doc.line_slots)  # fmt: skip
        signature = self._signature(doc)
        url_key, text_key, *guid_key = doc.keys
        record = DocRecord(
            event_id=doc.event_id, cluster_id=verdict.cluster_id, seen_at=doc.seen_at,
            url_key=url_key, guid_key=guid_key[0] if guid_key else None, text_key=text_key,
            revision=verdict.revision if kind == "updated" else 1, agency=verdict.syndication,
            n_shingles=int(fp.distinct.size), signature=signature,
        )  # fmt: skip
        bands = None if signature is None else fp.bands
        self.index.reserve(record, Sequences(fp.shingles, fp.opening),
                           joined=kind == "duplicate", observed=observed, bands=bands)  # fmt: skip

    def _site(self, doc: _Doc) -> str:
        if doc.site is None:
            doc.site = _site(doc.article)
        return doc.site

    def _line_slots(self, doc: _Doc) -> npt.NDArray[np.int64]:
        if doc.line_slots is None:
            doc.line_slots = self.boilerplate.slots(self._site(doc), doc.fp.lines)
        return doc.line_slots

    def _event_id_of(self, article: Article, verdict: Verdict) -> str:
        # decide() put the id on the verdict; hashing the text again costs more.
        return verdict.event_id or event_id(article.canonical_url, content_hash(article.text))

    async def _maybe_expire(self, now: float) -> None:
        if now < self._next_expiry:
            return
        self._next_expiry = now + _EXPIRE_EVERY
        cutoff = now - self.window
        forgotten = self.index.expire(cutoff)
        deleted = await self.store.run(lambda conn: idx.delete_older(conn, cutoff))
        if forgotten or deleted:
            log.info("dedup.expired", memory=forgotten, stored=deleted)


def _site(article: Article) -> str:
    """The site a document belongs to, for per-site boilerplate: its canonical URL's host."""
    url = article.canonical_url
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _host(url)
    # The host depends only on the part before the path: parsed once per site, not per article.
    return _host(f"{scheme}://{rest.partition('/')[0]}")


@lru_cache(maxsize=4096)
def _host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")
