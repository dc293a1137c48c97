"""Decisions per second on one core, and index memory per document, next to datasketch.

    PYTHONPATH=. python bench/dedup_speed.py --corpora ../shared/corpora --docs 1000000

1. Speed: `Deduper.decide()` + `commit()` over corpus bodies and their reposts (shingling,
   MinHash, LSH lookup, exact checks and the SQLite write included), in one process.  Round 1
   sees every text for the first time; later rounds repeat the texts at new URLs (exact
   copies).  The shingle cache of recent documents (outside the index) is reported apart.
   First-sight decisions are also given per CPU second of this process (`time.process_time`),
   which other load on a shared machine distorts less than wall time.
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import structlog

from bench.dedup_quality import article, corpus_bodies
from daemon.dedup.deduper import Deduper
from daemon.dedup.index import DedupIndex, DocRecord
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
    decide_time: float = 0.0  # seconds in decide(), all rounds
    total_time: float = 0.0  # seconds in decide() + commit(), all rounds
    first_count: int = 0  # round 1 only: every text seen for the first time
    first_time: float = 0.0
    first_cpu: float = 0.0  # CPU seconds of this process in round 1's decide() calls


async def speed(corpora: Path, rounds: int) -> tuple[Speed, Deduper]:
    bodies = corpus_bodies(corpora)
    rng = random.Random(1)
    docs = [(b, f"https://o.example/{i}") for i, b in enumerate(bodies)]
    docs += [(t, f"https://c.example/{i}/{n}") for i, b in enumerate(bodies)
             for n, t in variants(b, rng).items()]  # fmt: skip
    store = Store(":memory:")
    await store.open()
    deduper = Deduper(DedupSettings(), store)
    await deduper.start()
    measured = Speed()
    for r in range(rounds):
        for text, url in docs:
            doc = article(text, f"{url}/{r}")
            cpu, started = time.process_time(), time.perf_counter()
            verdict = await deduper.decide(doc)
            decided, cpu = time.perf_counter(), time.process_time() - cpu
            await deduper.commit(doc, verdict)
            measured.decide_time += decided - started
            measured.total_time += time.perf_counter() - started
            measured.count += 1
            if r == 0:
                measured.first_count += 1
                measured.first_time += decided - started
                measured.first_cpu += cpu
    await store.close()
    return measured, deduper


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
    cache = deduper.shingle_cache
    count = measured.count
    print(f"{'measure':52} {'value':>14}")
    print(f"{'decisions timed (bodies + reposts)':52} {count:14,}")
    print(f"{'decide() per second, one core':52} {count / measured.decide_time:14,.0f}")
    first = measured.first_count / measured.first_time
    print(f"{'decide() per second, round 1 only (first sight)':52} {first:14,.0f}")
    first_cpu = measured.first_count / measured.first_cpu
    print(f"{'decide() per CPU second, round 1 (shared machine)':52} {first_cpu:14,.0f}")
    print(f"{'decide() + commit() per second, one core':52} {count / measured.total_time:14,.0f}")
    print(f"{'shingle cache: cap, bytes':52} {cache.max_bytes:14,}")
    print(f"{'shingle cache: documents held after the run':52} {len(cache):14,}")
    print(
        f"{'shingle cache: bytes per document held':52} {cache.nbytes / max(len(cache), 1):14,.0f}"
    )
    secs, nbytes, rss = fill_index(args.docs, settings.num_perm)
    print(f"{f'newsd index: documents added (num_perm {settings.num_perm})':52} {args.docs:14,}")
    print(f"{'newsd index: seconds to add':52} {secs:14.1f}")
    print(f"{'newsd index: numpy bytes per document':52} {nbytes / args.docs:14.0f}")
    print(f"{'newsd index: RSS delta bytes per document':52} {rss / args.docs:14.0f}")
    secs, rss = datasketch_memory(args.datasketch_docs, settings.num_perm)
    print(f"{'datasketch MinHashLSH(0.5): documents':52} {args.datasketch_docs:14,}")
    print(f"{'datasketch MinHashLSH(0.5): seconds to insert':52} {secs:14.1f}")
    per_doc = rss / args.datasketch_docs
    print(f"{'datasketch MinHashLSH(0.5): RSS delta bytes per doc':52} {per_doc:14.0f}")


if __name__ == "__main__":
    main()
