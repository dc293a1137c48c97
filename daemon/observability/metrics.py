"""Counters by stage, outcome and reason; histograms; live gauges; the Prometheus exposition.

One `Metrics` object per process.  Counter names follow `<stage>.<outcome>[.<reason>]`, e.g.
`fetch.error.timeout`, `dedup.skip.unchanged`, `publish.ok.article.new`; the same counts feed
the `daemon.stats` log line, the health file and `/metrics`, where they read as

    newsd_records_total{stage="fetch", outcome="error", reason="timeout"}
    newsd_events_published_total{type="article.new"}          (from publish.ok.<type>)

Gauges (queue depths, per-feed state, dedup index size, ...) are read when scraped, from
callbacks the daemon registers with `gauge()`; nothing is copied on the hot path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a stage call is milliseconds to tens of seconds (fetch retries, extraction timeout).
_STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

Series = Mapping[tuple[str, ...], float]
"""A gauge's values by label values (`{(): 3.0}` for a gauge without labels)."""


def split_name(name: str) -> tuple[str, str, str]:
    """`fetch.error.timeout` → (stage, outcome, reason); missing parts are empty strings."""
    stage, _, rest = name.partition(".")
    outcome, _, reason = rest.partition(".")
    return stage, outcome, reason


class Metrics:
    """Monotonic counters (cheap enough to call per record) plus the Prometheus registry."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._included: list[Counter[str]] = []
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self.stage_seconds = Histogram(
            "newsd_stage_seconds",
            "Time spent in one stage call, by stage.",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=self.registry,
        )
        self.ack_latency = Histogram(
            "newsd_entry_to_ack_seconds",
            "From an item entering the pipeline (first sight in its feed) to Kafka's ack.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._live = _Live(self)
        self.registry.register(self._live)

    def incr(self, name: str, by: int = 1) -> None:
        self.counts[name] += by

    def include(self, counts: Counter[str]) -> None:
        """Count a stage's own counter (e.g. the poller's, named `poll.*`) in every snapshot."""
        self._included.append(counts)

    def snapshot(self) -> dict[str, int]:
        """Every counter as it is now, by name."""
        merged = Counter(self.counts)
        for counts in self._included:
            merged.update(counts)
        return dict(sorted(merged.items()))

    def gauge(
        self, name: str, doc: str, read: Callable[[], Series], labels: tuple[str, ...] = ()
    ) -> None:
        """Expose `read()` as a gauge, called at every scrape."""
        self._live.gauges.append((name, doc, labels, read))

    def counter(self, name: str, doc: str, read: Callable[[], float]) -> None:
        """Expose `read()` (a monotonic count kept elsewhere) as a counter."""
        self._live.counters.append((name, doc, read))

    def exposition(self) -> bytes:
        """The Prometheus text format of everything above."""
        return generate_latest(self.registry)


class _Live(Collector):
    """Reads counters and gauges at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.gauges: list[tuple[str, str, tuple[str, ...], Callable[[], Series]]] = []
        self.counters: list[tuple[str, str, Callable[[], float]]] = []

    def collect(self) -> Iterator[Any]:
        yield from _record_families(self.metrics.snapshot())
        for name, doc, read_count in self.counters:
            yield CounterMetricFamily(name, doc, value=read_count())
        for name, doc, labels, read in self.gauges:
            family = GaugeMetricFamily(name, doc, labels=list(labels))
            for values, value in read().items():
                family.add_metric(list(values), value)
            yield family


def _record_families(counts: Mapping[str, int]) -> Iterator[Any]:
    records = CounterMetricFamily(
        "newsd_records",
        "Records by stage, outcome and reason.",
        labels=["stage", "outcome", "reason"],
    )
    published = CounterMetricFamily(
        "newsd_events_published", "Events acknowledged by Kafka, by type.", labels=["type"]
    )
    for name, value in counts.items():
        stage, outcome, reason = split_name(name)
        records.add_metric([stage, outcome, reason], value)
        if stage == "publish" and outcome == "ok":
            published.add_metric([reason], value)
    yield records
    yield published
