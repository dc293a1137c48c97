"""The operator's view of a running daemon, wired from its parts: live gauges on `/metrics`, the
readiness probe behind `/readyz`, and the ops HTTP server itself (`ops.address`; empty: off).

Per-feed series (`newsd_feed_*{feed}`) are one series per feed and metric; `ops.per_feed_metrics
= false` drops them for very large feed lists (it can be changed with a SIGHUP).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from daemon.dedup.deduper import Deduper
from daemon.extract.pool import ExtractPool
from daemon.observability.metrics import CONTENT_TYPE, Metrics, Series
from daemon.observability.readiness import ReadinessProbe
from daemon.observability.server import Answer, OpsServer, json_answer
from daemon.pipeline import Pipeline
from daemon.records import FeedSpec
from daemon.settings import OpsSettings
from daemon.sources.feedstate import FeedState


class FeedView(Protocol):
    """What the ops view reads from the poller."""

    feeds: dict[str, FeedSpec]
    states: dict[str, FeedState]

    @property
    def last_errors(self) -> dict[str, str]: ...


@dataclass
class Ops:
    """Everything `/metrics`, `/healthz` and `/readyz` read; `per_feed` follows the settings."""

    metrics: Metrics
    pipeline: Pipeline
    probe: ReadinessProbe
    per_feed: bool = True

    def healthz(self) -> Answer:
        alive = self.pipeline.alive
        return json_answer(alive, "ok" if alive else "a pipeline worker has stopped")

    def readyz(self) -> Answer:
        verdict = self.probe.verdict()
        return json_answer(verdict.ready, verdict.reason)

    def metrics_page(self) -> Answer:
        return Answer(200, self.metrics.exposition(), CONTENT_TYPE)


def register_gauges(ops: Ops, *, deduper: Deduper, pool: ExtractPool, budget: int) -> None:
    """Expose queue depths, in-flight events, readiness, the extraction pool and the dedup
    index as gauges read at scrape time."""
    m, pipeline = ops.metrics, ops.pipeline
    m.gauge(
        "newsd_queue_depth",
        "Records waiting per queue; in_flight: events awaiting Kafka's ack.",
        lambda: {(name,): float(n) for name, n in pipeline.depths().items()},
        ("queue",),
    )
    m.gauge("newsd_ready", "1 while /readyz answers 200.", lambda: _one(ops.probe.verdict().ready))
    m.gauge(
        "newsd_workers_alive", "1 while every pipeline worker runs.", lambda: _one(pipeline.alive)
    )
    m.counter("newsd_extract_pool_restarts", "Extraction workers replaced.", lambda: pool.restarts)
    m.counter(
        "newsd_extract_timeouts", "Documents killed at extract.timeout.", lambda: pool.timeouts
    )
    m.gauge(
        "newsd_dedup_index_documents", "Documents in the dedup index.", _fixed(deduper, "alive")
    )
    m.gauge("newsd_dedup_index_bytes", "Memory of the dedup index.", _fixed(deduper, "nbytes"))
    m.gauge("newsd_dedup_index_budget_bytes", "ops.dedup_index_budget_bytes.", lambda: {(): budget})


def register_feed_gauges(ops: Ops, feeds: FeedView) -> None:
    """Per-feed state as gauges, one series per feed (none while `ops.per_feed` is off)."""

    def per_feed(read: Callable[[FeedState], float | None]) -> Callable[[], Series]:
        def series() -> Series:
            if not ops.per_feed:
                return {}
            states = feeds.states.items()
            values = ((fid, read(state)) for fid, state in states if fid in feeds.feeds)
            return {(fid,): value for fid, value in values if value is not None}

        return series

    m = ops.metrics
    m.gauge(
        "newsd_feed_last_success_timestamp_seconds",
        "Unix time of the feed's last successful poll.",
        per_feed(lambda s: s.last_success_at or None),
        ("feed",),
    )
    m.gauge(
        "newsd_feed_last_new_item_timestamp_seconds",
        "Unix time the feed last had a new item.",
        per_feed(lambda s: s.last_new_item_at or None),
        ("feed",),
    )
    m.gauge(
        "newsd_feed_error_streak",
        "Failed polls in a row.",
        per_feed(lambda s: s.error_streak),
        ("feed",),
    )
    m.gauge(
        "newsd_feed_last_error_info",
        "1 for the reason of the feed's current error streak.",
        lambda: {} if not ops.per_feed else {(f, r): 1.0 for f, r in feeds.last_errors.items()},
        ("feed", "reason"),
    )


def _one(flag: bool) -> Series:
    return {(): 1.0 if flag else 0.0}


def _fixed(deduper: Deduper, what: str) -> Callable[[], Series]:
    def read() -> Series:
        index = deduper.index
        return {(): float(index.alive if what == "alive" else index.nbytes())}

    return read


@contextlib.asynccontextmanager
async def serve(settings: OpsSettings, ops: Ops) -> AsyncIterator[OpsServer | None]:
    """Run the readiness probe, and the HTTP endpoint unless `ops.address` is empty."""
    async with asyncio.TaskGroup() as group:
        probe = group.create_task(ops.probe.run(), name="ops.readiness")
        server = None
        if settings.address:
            host, port = settings.host_port()
            routes = {"/metrics": ops.metrics_page, "/healthz": ops.healthz, "/readyz": ops.readyz}
            server = OpsServer(host, port, routes)
            await server.start()
        try:
            yield server
        finally:
            if server is not None:
                await server.close()
            probe.cancel()
