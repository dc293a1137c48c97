"""What deciding in intake order costs: the pipeline with and without the reorder buffer.

    PYTHONPATH=. python bench/reorder_cost.py --corpora ../shared/corpora --pages 300 --runs 2

Corpus pages (Zyte benchmark, fundus) are fed to the real pipeline as a replay feeds it
(`feed_page`): the real extraction pool (one worker per core) and the real dedup stage, with a
sink that acknowledges at once.  For `pipeline.ordered` true and false, alternately: pages per
second from the first intake to the last event, and each page's latency from intake to its
event (p50, p95, max).  The order-free run shows how much waiting for earlier pages adds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import structlog

from bench.extract_speed import Pages, _pages
from daemon.dedup.deduper import Deduper
from daemon.extract.extractor import Extractor
from daemon.observability.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.records import FeedEntry, FetchedPage, Origin
from daemon.settings import DedupSettings, ExtractSettings, PipelineSettings
from daemon.sinks.base import OutMessage
from daemon.state.sqlite import Store


class TimingSink:
    """Acknowledges at once; notes when each page's event was handed over."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}

    async def start(self) -> None: ...

    async def send(self, message: OutMessage) -> Awaitable[None]:
        self.sent[orjson.loads(message.value)["url"]] = time.perf_counter()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def close(self) -> None: ...


async def run(pages: Pages, ordered: bool, extractor: Extractor) -> tuple[float, list[float]]:
    store = Store(":memory:")
    await store.open()
    deduper = Deduper(DedupSettings(), store)
    await deduper.start()
    sink = TimingSink()
    settings = PipelineSettings(ordered=ordered)
    pipeline = Pipeline(settings, fetcher=None, extractor=extractor, deduper=deduper,  # type: ignore[arg-type]
                        sink=sink, metrics=Metrics(),
                        extract_workers=extractor.pool.workers * 2)  # fmt: skip
    pipeline.start()
    now = datetime.now(UTC)
    fed: dict[str, float] = {}
    started = time.perf_counter()
    for n, (url, html) in enumerate(pages):
        unique = f"{url}#{n}" if url in fed else url
        entry = FeedEntry(Origin("replay", "bench"), unique)
        fed[unique] = time.perf_counter()
        await pipeline.feed_page(FetchedPage(entry, unique, 200, "text/html", html, now))
    await pipeline.drain()
    elapsed = time.perf_counter() - started
    await pipeline.stop()
    await store.close()
    latencies = [sink.sent[u] - fed[u] for u in fed if u in sink.sent]
    return len(pages) / elapsed, latencies


async def main(corpora: Path, limit: int, runs: int) -> None:
    pages = _pages(corpora, limit)
    extractor = Extractor(ExtractSettings())
    await extractor.start()
    print(f"pages {len(pages)}, extraction workers {extractor.pool.workers}")
    print(f"{'run':4} {'ordered':8} {'pages/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for n in range(runs):
        for ordered in (True, False):
            rate, lat = await run(pages, ordered, extractor)
            q = statistics.quantiles(lat, n=20)
            print(f"{n + 1:<4} {ordered!s:8} {rate:8.1f} {1000 * statistics.median(lat):8.0f} "
                  f"{1000 * q[18]:8.0f} {1000 * max(lat):8.0f}")  # fmt: skip
    await extractor.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main(args.corpora, args.pages, args.runs))
