"""Pages/s of newsd's extraction stage on all cores vs a single-process trafilatura loop.

    PYTHONPATH=. python bench/extract_speed.py --corpora ../shared/corpora [--pages 200]

Both runs see the same HTML pages (scrapinghub then fundus, in file order).  newsd runs its
`Extractor` stage (process pool, one worker per core, metadata, language, post-filter), fed
concurrently the way the pipeline feeds it; the baseline is `trafilatura.extract(favor_precision=
True)` in a plain loop in this process.  Pool start-up is excluded (it happens once per daemon).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpora import LOADERS
from daemon.extract.extractor import Extractor
from daemon.records import FeedEntry, FetchedPage, Origin
from daemon.settings import ExtractSettings


def _pages(root: Path, limit: int) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for corpus in ("scrapinghub", "fundus"):
        out += [(d.url or "https://example.com/", d.html) for d in LOADERS[corpus](root)]
    return out[:limit]


def baseline(pages: list[tuple[str, bytes]]) -> float:
    started = time.perf_counter()
    for url, html in pages:
        trafilatura.extract(html, url=url, favor_precision=True)
    return len(pages) / (time.perf_counter() - started)


async def newsd(pages: list[tuple[str, bytes]], workers: int) -> float:
    extractor = Extractor(ExtractSettings(workers=workers))
    await extractor.start()
    now = datetime.now(UTC)
    records = [
        FetchedPage(FeedEntry(Origin("cli", "bench"), url), url, 200, "text/html", html, now)
        for url, html in pages
    ]
    await extractor(records[0])  # warm the workers: start-up is not throughput
    limit = asyncio.Semaphore(extractor.pool.workers * 2)

    async def one(page: FetchedPage) -> str:
        async with limit:
            return (await extractor(page)).extraction

    started = time.perf_counter()
    statuses = await asyncio.gather(*(one(p) for p in records))
    elapsed = time.perf_counter() - started
    print("newsd statuses:", dict(Counter(statuses)))
    await extractor.close()
    return len(records) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, required=True)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    args = parser.parse_args()
    pages = _pages(args.corpora, args.pages)
    base = baseline(pages)
    ours = asyncio.run(newsd(pages, args.workers))
    cores = os.cpu_count()
    print(f"{'run':44s} {'pages':>6s} {'pages/s':>8s}")
    print(f"{'trafilatura.extract, 1 process':44s} {len(pages):6d} {base:8.1f}")
    print(f"{f'newsd Extractor, pool on {cores} cores':44s} {len(pages):6d} {ours:8.1f}")
    print(f"ratio newsd / trafilatura: {ours / base:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
