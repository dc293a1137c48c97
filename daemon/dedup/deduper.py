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
`release()` forgets a pending document that was never published.  A crash loses only pending
documents, so it never turns an unsent article into a duplicate of itself.

Work is done only as needed: the keys first (an unchanged re-fetch ends there), then shingles,
MinHash and the agency; an exact copy borrows its original's shingles when they are in memory.

Memory: besides the index, the shingle sequences of recently committed documents stay in a
least-recently-used cache capped at `shingle_cache_bytes` (default 64 MiB, about 25,000 documents
of 600 words), so the exact check of a recent candidate needs no SQLite read; the rest are read in
one query per decision.

Concurrency: the pipeline calls `decide()` from a single task, so decisions are sequential and
consistent (a lock enforces it anyway); `commit()`/`release()` may run from another task.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import structlog

from daemon.dedup import index as idx
from daemon.dedup.boilerplate import (
    Boilerplate,
    line_keys,
    line_starts,
    shingle_mask,
    token_line_index,
)
from daemon.dedup.cache import ShingleCache
from daemon.dedup.index import DedupIndex, DocRecord, Sequences
from daemon.dedup.keys import content_hash, event_id, fold, folded_content_hash
from daemon.dedup.lsh import KIND_GUID, KIND_TEXT, KIND_URL, exact_key
from daemon.dedup.minhash import MinHasher
from daemon.dedup.shingles import (
    U32,
    U64,
    distinct,
    folded_tokens,
    opening_tokens,
    shingles_of_tokens,
)
from daemon.dedup.syndication import detect
from daemon.dedup.verify import RepostRule, members, overlap
from daemon.errors import Skip
from daemon.records import Article, Verdict
from daemon.settings import DedupSettings
from daemon.state.sqlite import Store

log = structlog.get_logger(__name__)

_DAY = 86_400.0
_EXPIRE_EVERY = 60.0  # seconds of clock between window sweeps
_MAX_VERIFIED = 8  # exact checks per decision at most (best estimated candidates first)


_NO_LINES = np.zeros(0, np.uint64)


@dataclass(frozen=True, slots=True)
class _Pending:
    record: DocRecord
    stored: Sequences
    observed: U64  # line keys counted for boilerplate (taken back on release)
    site: str
    overall: bool  # counted overall too (a new story)


@dataclass(frozen=True, slots=True)
class _Doc:
    """What `decide()` computes once about the incoming article."""

    article: Article
    folded: str  # keys.fold(article.text)
    record: DocRecord
    shingles: U32
    distinct: U32  # sorted distinct shingles (empty when borrowed: only `_near` reads it)
    text_hash: str = ""  # keys.content_hash of the text
    opening: U32 | None = None  # first token hashes (shingles.opening_tokens)
    lines: U64 = field(default_factory=lambda: _NO_LINES)  # one key per line (line_keys)
    line_starts: npt.NDArray[np.int64] | None = None  # first token of each line
    n_tokens: int = 0


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
        self.index = DedupIndex(MinHasher(settings.num_perm, bands))
        self.counts: Counter[str] = Counter()
        self._pending: dict[str, _Pending] = {}
        self.shingle_cache: ShingleCache[Sequences] = ShingleCache(
            shingle_cache_bytes
        )  # recent documents, for exact checks
        self.boilerplate = Boilerplate(
            site_stories=settings.boilerplate_site_stories, stories=settings.boilerplate_stories
        )
        self._lock = asyncio.Lock()
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
        self.index.bulk_load(records)
        for cluster_id, size, agency in clusters:
            if size > 1:
                self.index.cluster_sizes[cluster_id] = size
            if agency:
                self.index.cluster_agencies[cluster_id] = agency
        log.info("dedup.loaded", documents=len(records), clusters=len(clusters))

    async def close(self) -> None:
        """Nothing to flush: committed documents are already on disk, pending ones are lost."""

    async def decide(self, article: Article) -> Verdict:
        """Decide about `article` and register it as pending; `Skip("unchanged")` for a re-fetch."""
        async with self._lock:
            now = self.clock()
            await self._maybe_expire(now)
            doc, verdict = await self._decide(self._identify(article, now))
            verdict = replace(verdict, event_id=doc.record.event_id, content_hash=doc.text_hash)
            self._register(doc, verdict)
            self.counts[verdict.kind] += 1
            return verdict

    async def commit(self, article: Article, verdict: Verdict) -> None:
        """The event was acknowledged: persist the document (idempotent)."""
        eid = self._event_id_of(article, verdict)
        pending = self._pending.pop(eid, None)
        slot = self.index.pending.pop(eid, None)
        if pending is None:
            return
        if slot is not None and self.index.state[slot] == idx.PENDING:
            self.index.state[slot] = idx.COMMITTED
        size = self.index.cluster_sizes.get(verdict.cluster_id, 1)
        await self.store.run(lambda conn: idx.save(conn, pending.record, pending.stored, size))
        self.shingle_cache.put(eid, pending.stored)
        self.counts["committed"] += 1

    async def release(self, article: Article, verdict: Verdict) -> None:
        """The event was never published: forget the pending document."""
        eid = self._event_id_of(article, verdict)
        pending = self._pending.pop(eid, None)
        slot = self.index.pending.pop(eid, None)
        if pending is None or slot is None:
            return
        if pending.observed.size:
            self.boilerplate.forget(pending.site, pending.observed, overall=pending.overall)
        self.index.remove(slot, pending.record)
        if verdict.kind == "duplicate":
            self._grow_cluster(verdict.cluster_id, -1)
        self.counts["released"] += 1

    # -- decision steps -----------------------------------------------------------------------

    async def _decide(self, doc: _Doc) -> tuple[_Doc, Verdict]:
        # Shingles and MinHash are computed only when needed: not for a re-fetch, and not for an
        # exact copy whose original's shingles are at hand.
        previous, same_text = self._exact(doc)
        if previous is not None:
            doc = self._describe(doc)
            return doc, await self._updated(doc, previous)
        if same_text is not None:
            doc = self._borrow(doc, same_text) or self._describe(doc)
            return doc, self._duplicate(doc, same_text, 1.0)
        doc = self._describe(doc)
        verdict = await self._near(doc)
        agency = doc.record.agency
        return doc, verdict or Verdict(
            kind="new", cluster_id=doc.record.event_id, syndication=agency
        )

    def _identify(self, article: Article, now: float) -> _Doc:
        """The document's keys (cheap); its shingles come later, from `_describe` or `_borrow`."""
        folded = fold(article.text)
        text_hash = folded_content_hash(folded)
        guid = article.entry.guid
        record = DocRecord(
            event_id=event_id(article.canonical_url, text_hash),
            cluster_id="",
            seen_at=now,
            url_key=exact_key(KIND_URL, article.canonical_url),
            guid_key=exact_key(KIND_GUID, f"{article.entry.origin.id}\n{guid}") if guid else None,
            text_key=exact_key(KIND_TEXT, text_hash),
            revision=1,
            agency=None,
            n_shingles=0,
            signature=None,
        )
        empty = np.zeros(0, np.uint32)
        return _Doc(article, folded, record, empty, empty, text_hash)

    def _describe(self, doc: _Doc) -> _Doc:
        """`doc` with its shingles, signature and agency computed."""
        hashed, token_lines = folded_tokens(doc.folded)
        starts = line_starts(token_lines)
        shingles = shingles_of_tokens(hashed, self.settings.shingle_size)
        unique = distinct(shingles)
        signature = None
        if unique.size >= self.settings.min_shingles:
            signature = self.index.hasher.signature(unique, is_distinct=True)
        record = replace(doc.record, agency=self._agency(doc.article), n_shingles=int(unique.size),
                         signature=signature)  # fmt: skip
        return replace(doc, record=record, shingles=shingles, distinct=unique,
                       opening=opening_tokens(hashed), lines=line_keys(hashed, starts),
                       line_starts=starts, n_tokens=int(hashed.size))  # fmt: skip

    def _borrow(self, doc: _Doc, same_text: int) -> _Doc | None:
        """`doc` with the shingles and signature of `same_text` (same normalized text, so the
        same shingles), if they are in memory; None otherwise."""
        eid = self.index.event_id(same_text)
        pending = self._pending.get(eid)
        stored = pending.stored if pending is not None else self.shingle_cache.get(eid)
        if stored is None:
            return None
        count = int(self.index.n_shingles[same_text])
        signature = None
        if count >= self.settings.min_shingles:
            signature = self.index.signature[same_text].copy()
            if not signature.any():
                return None  # stored without one (under another min_shingles): compute it
        record = replace(doc.record, agency=self._agency(doc.article), n_shingles=count,
                         signature=signature)  # fmt: skip
        return replace(doc, record=record, shingles=stored.shingles, opening=stored.opening)

    def _agency(self, article: Article) -> str | None:
        return detect(article.text, article.fields.authors, article.fields.syndication)

    def _exact(self, doc: _Doc) -> tuple[int | None, int | None]:
        """(live slot with the same URL or feed GUID, live slot with the same text); raises
        `Skip("unchanged")` when the first has the same text."""
        record = doc.record
        by_url, same_text, *by_guid = self.index.latest_each(
            [
                record.url_key,
                record.text_key,
                *([] if record.guid_key is None else [record.guid_key]),
            ]
        )
        previous = by_url if by_url is not None or not by_guid else by_guid[0]
        if previous is not None and int(self.index.text_key[previous]) == record.text_key:
            self.counts["unchanged"] += 1
            raise Skip("unchanged")
        return previous, same_text

    async def _updated(self, doc: _Doc, previous: int) -> Verdict:
        cluster_id = self.index.cluster_id(previous)
        previous_id = self.index.event_id(previous)
        earlier = (await self._shingles([previous_id])).get(previous_id)
        similarity = (
            None if earlier is None else round(overlap(doc.shingles, earlier.shingles).jaccard, 4)
        )
        verdict = Verdict(
            kind="updated",
            cluster_id=cluster_id,
            similarity=similarity,
            previous_similarity=similarity,
            cluster_size=self.index.cluster_sizes.get(cluster_id, 1),
            revision=int(self.index.revision[previous]) + 1,
            syndication=self.index.cluster_agencies.get(cluster_id) or doc.record.agency,
        )
        log.info("dedup.updated", revision=verdict.revision, similarity=similarity)
        return verdict

    def _duplicate(self, doc: _Doc, match: int, similarity: float) -> Verdict:
        cluster_id = self.index.cluster_id(match)
        size = self._grow_cluster(cluster_id, +1)
        agency = self.index.cluster_agencies.get(cluster_id) or doc.record.agency
        verdict = Verdict(
            kind="duplicate",
            cluster_id=cluster_id,
            duplicate_of=cluster_id,
            similarity=round(similarity, 4),
            cluster_size=size,
            syndication=agency,
        )
        log.info("dedup.duplicate", duplicate_of=cluster_id, similarity=verdict.similarity,
                 cluster_size=size, syndication=agency)  # fmt: skip
        return verdict

    async def _near(self, doc: _Doc) -> Verdict | None:
        signature = doc.record.signature
        if signature is None:
            return None
        # Past half the threshold (estimated), a candidate cannot pass the exact check.
        found = self.index.candidates(signature, doc.record.n_shingles, self.settings.min_shingles,
                                      _MAX_VERIFIED, self.rule.containment / 2)  # fmt: skip
        if not found:
            return None
        sequences = await self._shingles([c.event_id for c in found])
        own, learned = self._without_boilerplate(doc)
        own_set = doc.distinct if learned is None else distinct(own)
        for candidate in found:
            other = sequences.get(candidate.event_id)
            if other is None:
                continue
            theirs = other.shingles
            if learned is not None:
                theirs = theirs[~members(theirs, learned)]
            measured = overlap(own, theirs, own_set, (doc.opening, other.opening))
            if self.rule.accepts(measured):
                return self._duplicate(doc, candidate.slot, measured.similarity)
        return None

    def _without_boilerplate(self, doc: _Doc) -> tuple[U32, U32 | None]:
        """(the document's shingles outside learned boilerplate lines, the sorted distinct
        boilerplate shingles, or None when it has none)."""
        if doc.line_starts is None or doc.lines.size == 0:
            return doc.shingles, None
        lines = self.boilerplate.mask(_site(doc.article), doc.lines)
        if not lines.any():
            return doc.shingles, None
        token_line = token_line_index(doc.line_starts, doc.n_tokens)
        inside = shingle_mask(lines[token_line], self.settings.shingle_size, doc.shingles.size)
        return doc.shingles[~inside], distinct(doc.shingles[inside])

    async def _shingles(self, eids: list[str]) -> dict[str, Sequences]:
        """Stored sequences by event id: pending and cached in memory, the rest in one query."""
        found: dict[str, Sequences] = {}
        missing: list[str] = []
        for eid in eids:
            pending = self._pending.get(eid)
            sequence = pending.stored if pending is not None else self.shingle_cache.get(eid)
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

    def _grow_cluster(self, cluster_id: str, by: int) -> int:
        size = self.index.cluster_sizes.get(cluster_id, 1) + by
        if size > 1:
            self.index.cluster_sizes[cluster_id] = size
        else:
            self.index.cluster_sizes.pop(cluster_id, None)
        return max(size, 1)

    def _register(self, doc: _Doc, verdict: Verdict) -> None:
        site, observed, overall = _site(doc.article), _NO_LINES, verdict.kind == "new"
        if (overall or verdict.similarity != 1.0) and verdict.kind != "updated" and doc.lines.size:
            observed = doc.lines
            self.boilerplate.observe(site, observed, overall=overall)
        record = doc.record
        revision = verdict.revision if verdict.kind == "updated" else 1
        agency = verdict.syndication
        final = DocRecord(
            event_id=record.event_id, cluster_id=verdict.cluster_id, seen_at=record.seen_at,
            url_key=record.url_key, guid_key=record.guid_key, text_key=record.text_key,
            revision=revision, agency=agency, n_shingles=record.n_shingles,
            signature=record.signature,
        )  # fmt: skip
        stored = Sequences(doc.shingles, doc.opening)
        self._pending[record.event_id] = _Pending(final, stored, observed, site, overall)
        self.index.pending[record.event_id] = self.index.add(final)

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
    host = urlsplit(article.canonical_url).hostname or ""
    return host.removeprefix("www.")
