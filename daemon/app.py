"""What each command does, assembled from the stages.  The CLI parses; this module runs.

`Runtime` owns the process-wide resources in start-up order (logging → broker → store → sink →
HTTP client → stages → pipeline) and closes them in reverse, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from daemon.dedup.deduper import Deduper
from daemon.errors import ConfigError, SinkError
from daemon.extract.command import extract_paths
from daemon.extract.extractor import Extractor
from daemon.fetch.client import HttpFetcher
from daemon.fetch.fetcher import Fetcher
from daemon.observability import health
from daemon.observability.logging import configure
from daemon.observability.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.replay.archive import ArchiveWriter
from daemon.replay.progress import ReplayProgress
from daemon.replay.rate import RateLimiter
from daemon.replay.source import ReplaySource
from daemon.settings import Settings, dump
from daemon.sinks.base import Sink
from daemon.sinks.embedded import EmbeddedBroker
from daemon.sinks.jsonl import JsonlSink
from daemon.sinks.kafka import KafkaSink, client_options, topic_names
from daemon.sources.feedstate import FeedStateRepo
from daemon.sources.opml import import_opml, list_feeds, load_feeds
from daemon.sources.poller import Poller
from daemon.state.sqlite import Store
from daemon.stories.storyteller import Storyteller

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    """The process-wide resources of one run, opened in order and closed in reverse."""

    settings: Settings
    store: Store
    sink: Sink
    http: HttpFetcher
    pipeline: Pipeline
    metrics: Metrics


@contextlib.asynccontextmanager
async def runtime(
    settings: Settings,
    sink: Sink,
    *,
    extra_headers: dict[str, str] | None = None,
    on_outcome: Callable[[str], None] | None = None,
) -> AsyncIterator[Runtime]:
    """Open store, sink, HTTP client and stages; start the pipeline; close all on exit."""
    async with contextlib.AsyncExitStack() as stack:
        store = Store.in_dir(settings.state.dir)
        await store.open()
        stack.push_async_callback(store.close)
        await sink.start()
        stack.push_async_callback(sink.close)
        archive = await _archive(settings, stack)
        http = HttpFetcher(settings.fetch, on_response=archive.record if archive else None)
        stack.push_async_callback(http.aclose)
        extractor = Extractor(settings.extract)
        await extractor.start()
        stack.push_async_callback(extractor.close)
        deduper = Deduper(
            settings.dedup, store, shingle_cache_bytes=settings.dedup.shingle_cache_bytes
        )
        await deduper.start()
        stack.push_async_callback(deduper.close)
        storyteller = await _storyteller(settings, store, stack)
        metrics = Metrics()
        pipeline = Pipeline(
            settings.pipeline,
            fetcher=Fetcher(settings.fetch, http),
            extractor=extractor,
            deduper=deduper,
            sink=sink,
            metrics=metrics,
            extract_workers=max(2, 2 * extractor.pool.workers),
            max_in_flight=settings.kafka.max_in_flight,
            extra_headers=extra_headers,
            on_outcome=on_outcome,
            storyteller=storyteller,
        )
        pipeline.start()
        stack.push_async_callback(pipeline.stop)
        yield Runtime(settings, store, sink, http, pipeline, metrics)


async def _storyteller(
    settings: Settings, store: Store, stack: contextlib.AsyncExitStack
) -> Storyteller | None:
    if not settings.stories.enabled:
        return None
    storyteller = Storyteller(settings.stories, store)
    await storyteller.start()
    stack.push_async_callback(storyteller.close)
    return storyteller


async def _archive(settings: Settings, stack: contextlib.AsyncExitStack) -> ArchiveWriter | None:
    if not settings.archive.enabled:
        return None
    writer = ArchiveWriter(settings.archive)
    stack.push_async_callback(writer.close)
    return writer


def make_sink(settings: Settings, spec: str = "kafka") -> Sink:
    """`kafka` (the configured or embedded broker) or `jsonl:FILE`."""
    if spec == "kafka":
        if not settings.kafka.bootstrap_servers:
            raise ConfigError("kafka.bootstrap_servers", "no Kafka address and no embedded broker")
        return KafkaSink(settings.kafka, settings.kafka.bootstrap_servers)
    if spec.startswith("jsonl:") and len(spec) > len("jsonl:"):
        return JsonlSink(Path(spec.removeprefix("jsonl:")))
    raise ConfigError("sink", f"unknown sink {spec!r}: use kafka or jsonl:FILE")


# -- newsd run ---------------------------------------------------------------------------------


async def run(settings: Settings, *, once: bool) -> int:
    """Poll the feeds and publish; with `once`, poll every feed once, drain, flush and return."""
    configure(settings.log.level, settings.log.format)
    async with (
        broker_for(settings) as (resolved, _),
        runtime(resolved, make_sink(resolved)) as rt,
    ):
        poll = resolved.poll
        feeds = FeedStateRepo(
            rt.store, seen_window=poll.seen_window, seen_max=poll.seen_max_per_feed
        )
        await feeds.start()
        specs = await load_feeds(feeds, resolved.feeds)
        poller = Poller(resolved.poll, specs, rt.http, feeds, rt.pipeline.feed)
        await poller.start()
        log.info("daemon.started", feeds=len(specs), once=once)
        if once:
            await _run_once(rt, poller)
        else:
            await _run_forever(rt, poller)
        rt.metrics.merge(poller.counts)
        _log_summary(rt.metrics)
    return 0


async def _run_once(rt: Runtime, poller: Poller) -> None:
    await poller.run_once()
    await rt.pipeline.drain()
    await poller.close()


async def _run_forever(rt: Runtime, poller: Poller) -> None:
    stop = asyncio.Event()
    stop_on_signals(stop)
    reporter = asyncio.create_task(_report(rt, poller, stop))
    await poller.run(stop)
    log.info("daemon.stopping", grace_s=rt.settings.pipeline.shutdown_grace)
    drained = await rt.pipeline.drain(timeout=rt.settings.pipeline.shutdown_grace)
    if not drained:
        log.warning("daemon.drain_timeout", note="unfinished entries will be redone")
    await poller.close()
    await reporter


async def _report(rt: Runtime, poller: Poller, stop: asyncio.Event) -> None:
    """A periodic `daemon.stats` line with every counter, and the health file `newsd health`
    reads: the operator's view of a running daemon."""
    started = time.time()
    every = rt.settings.log.stats_interval
    while True:
        rt.metrics.merge(poller.counts)
        counts = rt.metrics.snapshot()
        await asyncio.to_thread(health.write, rt.settings.state.dir, started=started, counts=counts)
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        log.info("daemon.stats", **_flat(rt.metrics.snapshot()))


def _log_summary(metrics: Metrics) -> None:
    log.info("daemon.summary", **_flat(metrics.snapshot()))


def _flat(counts: dict[str, int]) -> dict[str, int]:
    return {key.replace(".", "_"): value for key, value in counts.items()}


# -- newsd replay ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayOptions:
    paths: list[Path]
    sink: str = "kafka"
    topic_prefix: str | None = None
    rate: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    fresh_state: bool = False


async def replay(settings: Settings, options: ReplayOptions) -> int:
    """Replay archives through the live stages; print a summary; 0 when everything was read."""
    configure(settings.log.level, settings.log.format)
    settings = _replay_settings(settings, options)
    run_id = _run_id()
    source = ReplaySource(options.paths, since=options.since, until=options.until, run_id=run_id)
    progress = ReplayProgress(
        total=source.total_bytes, tty=sys.stderr.isatty(), position=lambda: source.bytes_done
    )
    with _fresh_state(settings, options.fresh_state) as settings:
        async with contextlib.AsyncExitStack() as stack:
            resolved = settings
            if options.sink == "kafka":
                resolved, _ = await stack.enter_async_context(broker_for(settings))
            sink = make_sink(resolved, options.sink)
            headers = {"newsd_replay": run_id}
            rt = await stack.enter_async_context(
                runtime(resolved, sink, extra_headers=headers, on_outcome=progress.advance)
            )
            await _replay_items(rt, source, progress, options.rate)
    summary = progress.close(source.stats)
    print(json.dumps({"run_id": run_id, **summary}, indent=2, default=str))
    return 0


async def _replay_items(
    rt: Runtime, source: ReplaySource, progress: ReplayProgress, rate: float | None
) -> None:
    limiter = RateLimiter(rate) if rate else None
    async for item in source.aiter():
        progress.advance("read")
        if limiter is not None:
            await limiter.acquire()
        await rt.pipeline.feed_page(item.page)
    await rt.pipeline.drain()


def _replay_settings(settings: Settings, options: ReplayOptions) -> Settings:
    if options.topic_prefix is None:
        return settings
    topics = settings.kafka.topics.model_copy(update={"prefix": options.topic_prefix})
    kafka = settings.kafka.model_copy(update={"topics": topics})
    return settings.model_copy(update={"kafka": kafka})


def _run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"replay-{stamp}-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def _fresh_state(settings: Settings, fresh: bool) -> Iterator[Settings]:
    if not fresh:
        yield settings
        return
    with tempfile.TemporaryDirectory(prefix="newsd-replay-") as tmp:
        state = settings.state.model_copy(update={"dir": Path(tmp)})
        yield settings.model_copy(update={"state": state})


# -- newsd extract, feeds ------------------------------------------------------------------------


def extract(settings: Settings, paths: list[str], *, url: str | None, jsonl: bool) -> int:
    """Print the article fields of each input as JSON, in input order."""
    configure(settings.log.level, settings.log.format)
    results = extract_paths([Path(p) for p in paths], url=url, settings=settings.extract)
    for fields in results:
        if jsonl:
            print(json.dumps(fields, ensure_ascii=False, default=str))
        else:
            print(json.dumps(fields, ensure_ascii=False, indent=2, default=str))
    return 0


async def feeds_import(settings: Settings, path: Path) -> int:
    configure(settings.log.level, settings.log.format)
    async with _feed_repo(settings) as repo:
        result = await import_opml(path, repo, configured=settings.feeds)
    print(
        json.dumps(
            {
                "added": [dataclasses.asdict(spec) for spec in result.added],
                "duplicates": result.duplicates,
                "invalid": result.invalid,
            },
            indent=2,
            default=str,
        )
    )
    return 0


async def feeds_list(settings: Settings) -> int:
    configure(settings.log.level, settings.log.format)
    async with _feed_repo(settings) as repo:
        rows = await list_feeds(repo, configured=settings.feeds)
    for row in rows:
        print(json.dumps(dataclasses.asdict(row), ensure_ascii=False, default=str))
    return 0


@contextlib.asynccontextmanager
async def _feed_repo(settings: Settings) -> AsyncIterator[FeedStateRepo]:
    store = Store.in_dir(settings.state.dir)
    await store.open()
    try:
        repo = FeedStateRepo(store)
        await repo.start()
        yield repo
    finally:
        await store.close()


# -- newsd config, tail --------------------------------------------------------------------------


def check_health(settings: Settings, max_age: float | None) -> int:
    """0 when the running daemon wrote its health file recently, 1 otherwise."""
    limit = max_age if max_age is not None else 3 * settings.log.stats_interval
    verdict = health.check(settings.state.dir, max_age=limit)
    print(json.dumps({"healthy": verdict.healthy, "reason": verdict.reason, **verdict.report}))
    return 0 if verdict.healthy else 1


def show_config(settings: Settings) -> int:
    """Print the resolved settings as JSON, secrets masked."""
    print(json.dumps(dump(settings), indent=2, ensure_ascii=False))
    return 0


@contextlib.asynccontextmanager
async def broker_for(settings: Settings) -> AsyncIterator[tuple[Settings, EmbeddedBroker | None]]:
    """Yield settings pointing at a broker: the configured one, or the embedded one started here.

    The embedded broker does not accept aiokafka's idempotent producer, so idempotence is turned
    off (and logged) when it is used.
    """
    mode = settings.embedded_broker.enabled
    if mode == "never" or (mode == "auto" and settings.kafka.bootstrap_servers):
        yield settings, None
        return
    embedded = EmbeddedBroker(settings.embedded_broker.host, settings.embedded_broker.port)
    await embedded.start()
    log.info(
        "broker.embedded",
        bootstrap_servers=embedded.bootstrap_servers,
        note="in-memory Kafka-compatible broker; events are lost when newsd stops",
    )
    kafka = settings.kafka.model_copy(
        update={"bootstrap_servers": embedded.bootstrap_servers, "enable_idempotence": False}
    )
    try:
        yield settings.model_copy(update={"kafka": kafka}), embedded
    finally:
        await embedded.stop()


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def tail(
    settings: Settings, topic: str, *, from_beginning: bool, limit: int | None, full: bool
) -> int:
    """Print events from `topic` (or a channel name) until interrupted or `limit` reached."""
    configure(settings.log.level, settings.log.format)
    bootstrap = settings.kafka.bootstrap_servers or _embedded_address(settings)
    channels = {str(channel): name for channel, name in topic_names(settings.kafka.topics).items()}
    name = channels.get(topic, topic)
    consumer = AIOKafkaConsumer(
        name,
        **client_options(settings.kafka, bootstrap),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        raise SinkError("kafka_connect", f"{bootstrap}: {exc}") from exc
    stop = asyncio.Event()
    stop_on_signals(stop)
    try:
        await _print_records(consumer, stop, limit, full)
    finally:
        await consumer.stop()
    return 0


async def _print_records(
    consumer: AIOKafkaConsumer, stop: asyncio.Event, limit: int | None, full: bool
) -> None:
    printed = 0
    while not stop.is_set() and (limit is None or printed < limit):
        batch = await consumer.getmany(timeout_ms=500, max_records=100)
        for records in batch.values():
            for record in records:
                if limit is not None and printed >= limit:
                    return
                print(_render(record.value, full), flush=True)
                printed += 1


def _render(value: bytes, full: bool) -> str:
    if full:
        return value.decode("utf-8", "replace")
    event: dict[str, Any] = orjson.loads(value)
    keys = (
        "type",
        "event_id",
        "published_at",
        "site_name",
        "title",
        "url",
        "duplicate_of",
        "reason",
    )
    return json.dumps({k: event[k] for k in keys if event.get(k) is not None}, ensure_ascii=False)


def _embedded_address(settings: Settings) -> str:
    return f"{settings.embedded_broker.host}:{settings.embedded_broker.port}"
