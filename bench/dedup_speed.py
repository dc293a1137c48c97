"""Decisions per second on one core, and index memory per document, next to datasketch.

    PYTHONPATH=. python bench/dedup_speed.py --corpora ../shared/corpora --docs 1000000

1. Speed, over corpus bodies and their reposts, in one process.  Round 1 sees every text for
   the first time (first sight); later rounds repeat the texts at new URLs (exact copies).
   Two costs are timed apart for every document, as the daemon splits them:
   - `fingerprint(text)`: everything computed from the text alone (content hash, shingles,
     MinHash, band keys, line keys, text agency); the daemon computes it in the extraction
     worker process, off the event loop;
   - `Deduper.decide()` given that fingerprint (LSH lookup, exact checks, boilerplate rules,
     registering the pending document): what the event loop does per article;
   and their sum, the cost of a first-sight decision on one core.  `commit()` is timed on top:
   it queues the document for the store thread, which writes every document committed since
   its last write in one transaction; the wait for the last writes at the end is counted in.
   Then a second, fresh index decides round 1 without fingerprints (decide() computes them
   itself, as in replay without workers): the figure comparable to the earlier `decide()`
   alone.  Round-1 figures are also given per CPU second of the calling
   thread (`time.thread_time`: the event loop's own CPU, without the store thread writing
   meanwhile), which other load on a shared machine distorts less than wall time.
   The shingle cache of recent documents (outside the index) is reported apart.
2. Memory: `DedupIndex` filled with `--docs` synthetic documents (random signatures and keys:
   the structures are the same as for real text), measured as numpy bytes and RSS delta.
3. datasketch `MinHashLSH` (threshold 0.5, same num_perm) at `--datasketch-docs` documents,
   measured as RSS delta (tracemalloc is too slow at this size).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import random
import resource
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import structlog

from bench.dedup_quality import article, corpus_bodies
from daemon.dedup.cache import ShingleCache
from daemon.dedup.deduper import Deduper
from daemon.dedup.fingerprint import fingerprint
from daemon.dedup.index import DedupIndex, DocRecord, Sequences
from daemon.dedup.minhash import MinHasher
from daemon.settings import DedupSettings
from daemon.state.sqlite import Store
from tests.dedup.variants import variants


def rss_bytes() -> int:
    with Path("/proc/self/statm").open() as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


@dataclass
class Speed:
    count: int = 0
    decide_time: float = 0.0  # seconds in decide() given a fingerprint, all rounds
    commit_time: float = 0.0  # seconds in commit(), all rounds
    first_count: int = 0  # round 1 only: every text seen for the first time
    print_time: float = 0.0  # round 1: seconds in fingerprint()
    print_cpu: float = 0.0
    first_time: float = 0.0  # round 1: seconds in decide() given a fingerprint
    first_cpu: float = 0.0
    own_time: float = 0.0  # round 1, second index: decide() computing the fingerprint itself
    own_cpu: float = 0.0
    writes: int = 0  # store transactions that wrote the committed documents


def documents(corpora: Path) -> list[tuple[str, str]]:
    bodies = corpus_bodies(corpora)
    rng = random.Random(1)
    docs = [(b, f"https://o.example/{i}") for i, b in enumerate(bodies)]
    docs += [(t, f"https://c.example/{i}/{n}") for i, b in enumerate(bodies)
             for n, t in variants(b, rng).items()]  # fmt: skip
    return docs


async def fresh_deduper() -> tuple[Deduper, Store]:
    store = Store(":memory:")
    await store.open()
    deduper = Deduper(DedupSettings(), store)
    await deduper.start()
    return deduper, store


async def speed(corpora: Path, rounds: int) -> tuple[Speed, Deduper]:
    docs = documents(corpora)
    deduper, store = await fresh_deduper()
    measured = Speed()
    for r in range(rounds):
        for text, url in docs:
            cpu, started = time.thread_time(), time.perf_counter()
            printed = fingerprint(text, deduper.params)
            cpu, started = time.thread_time() - cpu, time.perf_counter() - started
            if r == 0:
                measured.print_time += started
                measured.print_cpu += cpu
            doc = replace(article(text, f"{url}/{r}"), fingerprint=printed)
            cpu, started = time.thread_time(), time.perf_counter()
            verdict = await deduper.decide(doc)
            decided, cpu = time.perf_counter(), time.thread_time() - cpu
            await deduper.commit(doc, verdict)
            measured.decide_time += decided - started
            measured.commit_time += time.perf_counter() - decided
            measured.count += 1
            if r == 0:
                measured.first_count += 1
                measured.first_time += decided - started
                measured.first_cpu += cpu
    started = time.perf_counter()
    await deduper.flush()
    measured.commit_time += time.perf_counter() - started
    measured.writes = deduper.counts["writes"]
    await store.close()
    await own_prints(docs, measured)
    return measured, deduper


async def own_prints(docs: list[tuple[str, str]], measured: Speed) -> None:
    """Round 1 again, in a fresh index, without fingerprints: decide() computes them."""
    deduper, store = await fresh_deduper()
    for text, url in docs:
        doc = article(text, f"{url}/0")
        cpu, started = time.thread_time(), time.perf_counter()
        verdict = await deduper.decide(doc)
        measured.own_time += time.perf_counter() - started
        measured.own_cpu += time.thread_time() - cpu
        await deduper.commit(doc, verdict)
    await store.close()


def fill_index(n: int, num_perm: int) -> tuple[float, int, int]:
    hasher = MinHasher(num_perm, 32)
    rng = np.random.default_rng(0)
    gc.collect()
    before = rss_bytes()
    index = DedupIndex(hasher)
    started = time.perf_counter()
    batch = 10_000
    for start in range(0, n, batch):
        sigs = rng.integers(0, 2**32, size=(batch, num_perm), dtype=np.uint32)
        keys = rng.integers(0, 2**56, size=(batch, 3), dtype=np.uint64)
        for i in range(min(batch, n - start)):
            eid = str(uuid.UUID(int=start + i + 1))
            index.add(DocRecord(eid, eid, 0.0, int(keys[i, 0]), int(keys[i, 1]), int(keys[i, 2]),
                                1, None, 300, sigs[i]), state=2)  # fmt: skip
    index.keys.flush()
    elapsed = time.perf_counter() - started
    gc.collect()
    return elapsed, index.nbytes(), rss_bytes() - before


def datasketch_memory(n: int, num_perm: int) -> tuple[float, int]:
    from datasketch import MinHash, MinHashLSH

    rng = np.random.default_rng(0)
    gc.collect()
    before = rss_bytes()
    lsh = MinHashLSH(threshold=0.5, num_perm=num_perm)
    started = time.perf_counter()
    for i in range(n):
        values = rng.integers(0, 2**32, size=num_perm, dtype=np.uint64)
        lsh.insert(f"doc-{i}", MinHash(num_perm=num_perm, hashvalues=values, scheme="affine32"))
    elapsed = time.perf_counter() - started
    gc.collect()
    return elapsed, rss_bytes() - before


def row(label: str, value: float, fmt: str = ",.0f") -> None:
    print(f"{label:64} {value:14{fmt}}")


def report(m: Speed, cache: ShingleCache[Sequences]) -> None:
    n = m.first_count
    print(f"{'measure':64} {'value':>14}")
    row("decisions timed (bodies + reposts, all rounds)", m.count)
    row("first-sight decisions timed (round 1)", n)
    row("A  fingerprint(): ms per document (wall), round 1", m.print_time / n * 1e3, ".3f")
    row("A  fingerprint(): ms per document (CPU), round 1", m.print_cpu / n * 1e3, ".3f")
    row("B  decide() given a fingerprint: per second, all rounds", m.count / m.decide_time)
    row("B  decide() given a fingerprint: per second, first sight", n / m.first_time)
    row("B  decide() given a fingerprint: per CPU second, first sight", n / m.first_cpu)
    row("A+B first-sight decisions per second, one core (wall)", n / (m.print_time + m.first_time))
    row("A+B first-sight decisions per CPU second, one core", n / (m.print_cpu + m.first_cpu))
    row("decide() computing its own fingerprint: per second, round 1", n / m.own_time)
    row("decide() computing its own fingerprint: per CPU second, rnd 1", n / m.own_cpu)
    row(
        "decide() + commit() given a fingerprint: per second",
        m.count / (m.decide_time + m.commit_time),
    )
    row("commit(): store transactions for all rounds' documents", m.writes)
    row("shingle cache: cap, bytes", cache.max_bytes)
    row("shingle cache: documents held after the run", len(cache))
    row("shingle cache: bytes per document held", cache.nbytes / max(len(cache), 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--datasketch-docs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    settings = DedupSettings()
    measured, deduper = asyncio.run(speed(args.corpora, args.rounds))
    report(measured, deduper.shingle_cache)
    secs, nbytes, rss = fill_index(args.docs, settings.num_perm)
    row(f"newsd index: documents added (num_perm {settings.num_perm})", args.docs)
    row("newsd index: seconds to add", secs, ".1f")
    row("newsd index: numpy bytes per document", nbytes / args.docs)
    row("newsd index: RSS delta bytes per document", rss / args.docs)
    secs, rss = datasketch_memory(args.datasketch_docs, settings.num_perm)
    row("datasketch MinHashLSH(0.5): documents", args.datasketch_docs)
    row("datasketch MinHashLSH(0.5): seconds to insert", secs, ".1f")
    row("datasketch MinHashLSH(0.5): RSS delta bytes per doc", rss / args.datasketch_docs)


if __name__ == "__main__":
    main()
