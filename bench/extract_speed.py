"""Pages/s and CPU ms/page of newsd's extraction stage vs a single-process trafilatura loop.

    PYTHONPATH=. python bench/extract_speed.py --corpora ../shared/corpora [--pages 300]

All runs see the same HTML pages (scrapinghub then fundus, in file order):

- baseline: `trafilatura.extract(favor_precision=True)` in a plain loop in this process;
- newsd work, 1 process: the function each worker runs (`extract_html`: trafilatura, metadata,
  post-filter, language), in a plain loop in this process;
- newsd stage: the `Extractor` stage (process pool, one worker per core), fed concurrently the
  way the pipeline feeds it.  Pool start-up is excluded (it happens once per daemon).

CPU ms/page is the figure to compare on a shared machine: wall-clock pages/s depends on how many
cores other jobs leave free, CPU time much less.  For the pool it is the CPU time of the worker
processes (read from /proc, so Linux only) plus that of this process (event loop, IPC).  The
"ratio if the cores were free" is cores x baseline CPU / newsd stage CPU: what the wall-clock
ratio would be with every core idle and the workers kept busy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpora import LOADERS
from daemon.extract.extractor import Extractor
from daemon.extract.work import extract_html
from daemon.records import FeedEntry, FetchedPage, Origin
from daemon.settings import ExtractSettings

Pages = list[tuple[str, bytes]]


def _pages(root: Path, limit: int) -> Pages:
    out: Pages = []
    for corpus in ("scrapinghub", "fundus"):
        out += [(d.url or "https://example.com/", d.html) for d in LOADERS[corpus](root)]
    return out[:limit]


def _loop(pages: Pages, one: Callable[[str, bytes], object]) -> tuple[float, float]:
    """(pages/s, CPU ms/page) of `one` over `pages` in this process."""
    one(*pages[0])  # lazy library state is built once per process, not per page
    wall, cpu = time.perf_counter(), time.process_time()
    for url, html in pages:
        one(url, html)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(pages) / wall, 1000 * cpu / len(pages)


def baseline(url: str, html: bytes) -> object:
    return trafilatura.extract(html, url=url, favor_precision=True)


def newsd_work(url: str, html: bytes) -> object:
    return extract_html(html, url, favor_precision=True, declared_language=None)


def _tree_cpu_seconds() -> float | None:
    """CPU seconds of this process's descendants (the pool's workers), from /proc."""
    try:
        stats = [p.read_text() for p in Path("/proc").glob("[0-9]*/stat")]
    except OSError:
        return None
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in stats:
        head, _, rest = stat.rpartition(")")
        fields = rest.split()
        pid = int(head.split(" (")[0])
        parent[pid], ticks[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    mine, total = {os.getpid()}, 0
    for pid in sorted(parent):  # children have larger pids than parents, barring wrap-around
        if parent[pid] in mine:
            mine.add(pid)
            total += ticks[pid]
    return total / os.sysconf("SC_CLK_TCK") if stats else None


async def newsd_stage(pages: Pages, workers: int) -> tuple[float, float | None, float, int]:
    """(pages/s, CPU ms/page of workers + this process, of this process, workers)."""
    extractor = Extractor(ExtractSettings(workers=workers))
    await extractor.start()
    now = datetime.now(UTC)
    records = [
        FetchedPage(FeedEntry(Origin("cli", "bench"), url), url, 200, "text/html", html, now)
        for url, html in pages
    ]
    size = extractor.pool.workers
    await asyncio.gather(*(extractor(r) for r in records[:size]))  # every worker started
    limit = asyncio.Semaphore(size * 2)  # as the pipeline: a few documents queued per worker

    async def one(page: FetchedPage) -> str:
        async with limit:
            return (await extractor(page)).extraction

    children, cpu = _tree_cpu_seconds(), time.process_time()
    started = time.perf_counter()
    statuses = await asyncio.gather(*(one(p) for p in records))
    elapsed = time.perf_counter() - started
    after = _tree_cpu_seconds()
    cpu = time.process_time() - cpu
    print("newsd statuses:", dict(Counter(statuses)))
    await extractor.close()
    total = None if children is None or after is None else after - children + cpu
    per_page = None if total is None else 1000 * total / len(records)
    return len(records) / elapsed, per_page, 1000 * cpu / len(records), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, required=True)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    args = parser.parse_args()
    pages = _pages(args.corpora, args.pages)
    base_rate, base_cpu = _loop(pages, baseline)
    work_rate, work_cpu = _loop(pages, newsd_work)
    rate, cpu, parent_cpu, size = asyncio.run(newsd_stage(pages, args.workers))
    cpu_cell = f"{cpu:12.1f}" if cpu is not None else f"{'n/a':>12s}"
    print(f"\n{'run':40s} {'pages':>6s} {'pages/s':>8s} {'CPU ms/page':>12s}")
    print(
        f"{'trafilatura.extract, 1 process':40s} {len(pages):6d} {base_rate:8.1f} {base_cpu:12.1f}"
    )
    print(f"{'newsd work, 1 process':40s} {len(pages):6d} {work_rate:8.1f} {work_cpu:12.1f}")
    label = f"newsd Extractor, pool of {size} workers"
    print(f"{label:40s} {len(pages):6d} {rate:8.1f} {cpu_cell}")
    print(f"{'  of which the event-loop process':40s} {'':6s} {'':8s} {parent_cpu:12.1f}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\ncores: {os.cpu_count()}, load average (1 min) at the end: {load:.2f}")
    print(f"wall-clock ratio newsd stage / trafilatura: {rate / base_rate:.2f}")
    if cpu is not None:
        print(f"ratio if the {size} cores were free (CPU-based): {size * base_cpu / cpu:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
