"""What each command does, assembled from the stages.  The CLI parses; this module runs.

`Runtime` owns the process-wide resources in start-up order (state lock → broker → store → sink
→ HTTP client → stages → pipeline → ops endpoint) and closes them in reverse, whatever happened:
the embedded broker, started first, stops last.

The pipeline's workers run under a `TaskGroup` owned by `runtime()`: a worker that dies of a bug
cancels the command's work, and `runtime()` raises `WorkerDied` (exit code 1) once everything is
closed, instead of leaving `drain()` waiting forever.

Signals (`newsd run`): SIGTERM and SIGINT stop intake and drain; SIGHUP re-reads the config and
applies what can change at runtime (see daemon/reload.py), logging what needs a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from daemon import reload as reloading
from daemon.cluster import roles
from daemon.cluster.articles import ArticleForwarder
from daemon.cluster.member import ClusterMember
from daemon.dedup.deduper import Deduper
from daemon.dedup.fingerprint import FingerprintParams
from daemon.errors import ConfigError, NewsdError, SinkError, UsageError, WorkerDied
from daemon.extract.command import extract_paths
from daemon.extract.extractor import Extractor
from daemon.fetch.client import PoliteClient
from daemon.fetch.pages import PageFetcher
from daemon.observability import health
from daemon.observability import ops as opsview
from daemon.observability.logging import configure, set_level
from daemon.observability.metrics import Metrics
from daemon.observability.readiness import ReadinessProbe
from daemon.pipeline import ForwardStage, Pipeline
from daemon.replay.archive import ArchiveWriter
from daemon.replay.progress import ReplayProgress
from daemon.replay.rate import RateLimiter
from daemon.replay.source import ReplaySource
from daemon.settings import DEFAULT_CONFIG, Settings, dump
from daemon.sinks.base import Sink
from daemon.sinks.embedded import EmbeddedBroker
from daemon.sinks.jsonl import JsonlSink
from daemon.sinks.kafka import KafkaSink, client_options, topic_names
from daemon.sources.feedcontrol import FeedControlRepo, FeedWatcher, current_feeds
from daemon.sources.feedlist import specs_from_config
from daemon.sources.feedstate import FeedStateRepo
from daemon.sources.poller import Poller
from daemon.state.lock import state_lock
from daemon.state.sqlite import Store
from daemon.stories.storyteller import Storyteller

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    """The process-wide resources of one run, opened in order and closed in reverse."""

    settings: Settings
    store: Store
    sink: Sink
    http: PoliteClient
    pipeline: Pipeline
    metrics: Metrics
    extractor: Extractor
    deduper: Deduper


@contextlib.asynccontextmanager
async def runtime(
    settings: Settings,
    sink: Sink,
    *,
    extra_headers: dict[str, str] | None = None,
    on_outcome: Callable[[str], None] | None = None,
    forward: ForwardStage | None = None,
) -> AsyncIterator[Runtime]:
    """Open store, sink, HTTP client and stages; start the pipeline; close all on exit.
    With `forward` (cluster mode) extracted articles go there instead of to dedup."""
    async with contextlib.AsyncExitStack() as stack:
        store = Store.in_dir(settings.state.dir)
        await store.open()
        stack.push_async_callback(store.close)
        await sink.start()
        stack.push_async_callback(sink.close)
        archive = await _archive(settings, stack)
        http = PoliteClient(settings.fetch, on_response=archive.record if archive else None)
        stack.push_async_callback(http.aclose)
        metrics = Metrics()
        fingerprint = FingerprintParams.of(settings.dedup)  # computed in the extraction worker
        extractor = Extractor(settings.extract, metrics=metrics, fingerprint=fingerprint)
        await extractor.start()
        stack.push_async_callback(extractor.close)
        deduper = Deduper(
            settings.dedup, store, shingle_cache_bytes=settings.dedup.shingle_cache_bytes
        )
        await deduper.start()
        stack.push_async_callback(deduper.close)
        storyteller = await _storyteller(settings, store, stack)
        pipeline = Pipeline(
            settings.pipeline,
            fetcher=PageFetcher(settings.fetch, http),
            extractor=extractor,
            deduper=deduper,
            sink=sink,
            metrics=metrics,
            extract_workers=max(2, 2 * extractor.pool.workers),
            max_in_flight=settings.kafka.max_in_flight,
            extra_headers=extra_headers,
            on_outcome=on_outcome,
            storyteller=storyteller,
            forward=forward,
        )
        rt = Runtime(settings, store, sink, http, pipeline, metrics, extractor, deduper)
        async with _supervised(pipeline):
            yield rt


@contextlib.asynccontextmanager
async def _supervised(pipeline: Pipeline) -> AsyncIterator[None]:
    """Run the pipeline's workers under a TaskGroup; a dead worker becomes `WorkerDied`."""
    try:
        async with asyncio.TaskGroup() as group:
            pipeline.start(group)
            try:
                yield
            finally:
                await pipeline.stop()
    except BaseExceptionGroup as errors:
        died = pipeline.died
        if died is None:  # the command's own error (TaskGroup wraps it): pass it on as it was
            raise errors.exceptions[0] if len(errors.exceptions) == 1 else errors from None
        raise WorkerDied("worker_died", f"{type(died).__name__}: {died}") from died


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


async def run(
    settings: Settings,
    *,
    once: bool,
    reload: Callable[[], Settings] | None = None,
    config: Path | None = None,
) -> int:
    """Poll the feeds and publish; with `once`, poll every feed once, drain, flush and return.

    0 once stopped cleanly (SIGTERM/SIGINT drain first); 1 when `--once` could not drain
    within `pipeline.once_timeout`.  `reload` re-reads the settings on SIGHUP."""
    configure(settings.log.level, settings.log.format)
    if config is None:
        log.warning("config.not_found", looked_for=str(DEFAULT_CONFIG), using="defaults, NEWSD_*")
    if once and settings.cluster.enabled:
        raise UsageError("--once", "run --once polls every feed: not in cluster mode")
    roles.require_shared_broker(settings)
    with state_lock(settings.state.dir):
        async with (
            broker_for(settings) as (resolved, _),
            roles.forwarding(resolved) as forwarder,
            runtime(resolved, make_sink(resolved), forward=forwarder) as rt,
        ):
            service = _Service(rt, settings, reload)
            service.forwarder = forwarder
            async with service.feeds_open(), opsview.serve(resolved.ops, service.ops):
                log.info("daemon.started", feeds=len(service.poller.feeds), once=once)
                drained = await (service.run_once() if once else service.run_forever())
            _log_summary(rt.metrics)
    return 0 if drained else 1


class _Service:
    """`newsd run` once the runtime is up: the poller, signals, reload, the periodic report."""

    poller: Poller
    watcher: FeedWatcher
    control: FeedControlRepo
    member: ClusterMember | None = None  # cluster mode: the feeds come from the group
    forwarder: ArticleForwarder | None = None  # cluster mode (daemon/cluster/roles.py)

    def __init__(
        self, rt: Runtime, settings: Settings, reload: Callable[[], Settings] | None
    ) -> None:
        self.rt, self.settings, self.reload_settings = rt, settings, reload
        poll = rt.settings.poll
        self.repo = FeedStateRepo(
            rt.store, seen_window=poll.seen_window, seen_max=poll.seen_max_per_feed
        )
        self.signals = StopSignals()
        self.stop = self.signals.first
        self.hup = asyncio.Event()
        probe = ReadinessProbe(
            rt.pipeline.publish,
            broker=rt.sink.check,
            store=lambda: rt.store.run(lambda conn: None),
            interval=rt.settings.ops.probe_interval,
            timeout=rt.settings.kafka.request_timeout_ms / 1000,
        )
        self.probe = probe
        self.ops = opsview.Ops(rt.metrics, rt.pipeline, probe, rt.settings.ops.per_feed_metrics)
        opsview.register_gauges(
            self.ops,
            deduper=rt.deduper,
            pool=rt.extractor.pool,
            budget=rt.settings.ops.dedup_index_budget_bytes,
        )

    @contextlib.asynccontextmanager
    async def feeds_open(self) -> AsyncIterator[None]:
        """`open_feeds()` (or `open_cluster()` in cluster mode); leave the group at exit."""
        if not self.rt.settings.cluster.enabled:
            await self.open_feeds()
            yield
            return
        self.member = ClusterMember(self.rt.settings, self.rt.store)
        try:
            await self.open_cluster(self.member)
            yield
        finally:
            await self.member.close()

    async def open_cluster(self, member: ClusterMember) -> None:
        """Cluster mode: the poller starts with no feed and gets its share from the group."""
        rt = self.rt
        await member.open()
        self.repo = member.repo
        self.poller = Poller(rt.settings.poll, [], rt.http, self.repo, rt.pipeline.feed)
        await member.join(self.poller)
        self.probe.detail = member.ownership.readiness
        rt.metrics.include(self.poller.counts)
        opsview.register_feed_gauges(self.ops, self.poller)
        self.signals.install(hup=self.hup)

    async def open_feeds(self) -> None:
        """Load the feed list and the poller's state; install the signal handlers."""
        rt = self.rt
        await self.repo.start()
        self.control = FeedControlRepo(rt.store)
        await self.control.start()
        self.watcher = FeedWatcher(
            self.repo, self.control, self.settings.feeds, every=rt.settings.poll.tick
        )
        feeds = await current_feeds(self.repo, self.control, self.settings.feeds)
        if not feeds.specs:
            log.warning("feeds.none", note="nothing to poll: add [[feeds]] or `newsd feeds add`")
        self.poller = Poller(rt.settings.poll, feeds.specs, rt.http, self.repo, rt.pipeline.feed)
        await self.watcher.apply(self.poller)
        rt.metrics.include(self.poller.counts)
        opsview.register_feed_gauges(self.ops, self.poller)
        self.signals.install(hup=self.hup)

    async def run_once(self) -> bool:
        """Poll every feed once (a signal cuts polling short), then drain with a timeout."""
        polling = asyncio.ensure_future(self.poller.run_once())
        stopped = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (polling, stopped):
                task.cancel()
            await asyncio.gather(polling, stopped, return_exceptions=True)
        if not polling.cancelled():
            polling.result()  # a poller failure is the command's failure
        pipeline = self.rt.settings.pipeline
        timeout = pipeline.shutdown_grace if self.stop.is_set() else pipeline.once_timeout
        drained = await self.rt.pipeline.drain(timeout=timeout)
        if not drained:
            log.error("daemon.drain_timeout", timeout_s=timeout, note="not everything published")
        await self.poller.close()
        return drained

    async def run_forever(self) -> bool:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._report(), name="daemon.report")
            self._start_cluster_members(group)
            reloader = group.create_task(self._reloader(), name="daemon.reload")
            watching = group.create_task(self._watch(), name="feeds.watch")
            await self.poller.run(self.stop)
            reloader.cancel()
            await watching
            await self._stop()
        return True

    def _watch(self) -> Coroutine[Any, Any, None]:
        """Follow feed changes: the feed_control table, or the group's feeds topic."""
        if self.member is not None:
            return self.member.run(self.stop)
        return self.watcher.run(self.poller, self.stop)

    def _start_cluster_members(self, group: asyncio.TaskGroup) -> None:
        if self.forwarder is None:
            return
        rt = self.rt
        roles.start_members(
            group, rt.settings, sink=rt.sink, pipeline=rt.pipeline,
            forwarder=self.forwarder, metrics=rt.metrics, stop=self.stop,
        )  # fmt: skip

    async def _stop(self) -> None:
        """The stop sequence, after intake stopped (`Poller.run` returned at the first signal):
        drain within `pipeline.shutdown_grace` (a second signal ends the drain at once), stop
        the pipeline (whatever is unfinished is settled not done), store the poller's state.
        Nothing unacknowledged is marked done, so the next start redoes exactly the
        unfinished entries."""
        grace = self.rt.settings.pipeline.shutdown_grace
        log.info("daemon.stopping", grace_s=grace)
        drained = await _drain(self.rt.pipeline, grace, self.signals.second)
        if not drained:
            log.warning("daemon.drain_timeout", note="unfinished entries will be redone")
        await self.rt.pipeline.stop(ack_wait=min(grace, 5.0))
        await self.poller.close()

    async def _report(self) -> None:
        """The health file `newsd health` reads, and a `daemon.stats` line with every counter
        as it is at that moment, every `log.stats_interval`."""
        started = time.time()
        while True:
            await self._write_health(started)
            if self.stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.settings.log.stats_interval)
            log.info("daemon.stats", **_flat(self.rt.metrics.snapshot()))

    async def _write_health(self, started: float) -> None:
        publish = self.rt.pipeline.publish
        await asyncio.to_thread(
            health.write,
            self.rt.settings.state.dir,
            started=started,
            counts=self.rt.metrics.snapshot(),
            pending=publish.pending,
            stalled_s=publish.stalled_for(time.time()),
        )

    async def _reloader(self) -> None:
        while True:
            await self.hup.wait()
            self.hup.clear()
            await self.reload()

    async def reload(self) -> None:
        """SIGHUP: re-read the settings; apply the runtime ones; log what needs a restart."""
        if self.reload_settings is None:
            return
        try:
            new = self.reload_settings()
            changes = reloading.changes(self.settings, new)
            if "feeds" in changes.applied:
                specs_from_config(new.feeds)  # a bad feed list (duplicate ids) refuses here
                await self._apply_configured(new)
        except NewsdError as exc:
            log.error("config.reload_failed", error=str(exc), note="running settings kept")
            return
        if "log.level" in changes.applied:
            set_level(new.log.level)
        self.ops.per_feed = new.ops.per_feed_metrics
        self.settings = _with_runtime_values(self.settings, new)
        log.info(
            "config.reloaded",
            changed=list(changes.applied),
            needs_restart=list(changes.needs_restart),
            feeds=len(self.poller.feeds),
        )

    async def _apply_configured(self, new: Settings) -> None:
        if self.member is not None:  # the group applies them once they are on the feeds topic
            await self.member.seed(new.feeds)
            return
        self.watcher.configured = new.feeds
        await self.watcher.apply(self.poller)


def _with_runtime_values(running: Settings, new: Settings) -> Settings:
    """The running settings with the runtime-changeable values (daemon/reload.py) of `new`."""
    log_settings = running.log.model_copy(
        update={"level": new.log.level, "stats_interval": new.log.stats_interval}
    )
    ops = running.ops.model_copy(update={"per_feed_metrics": new.ops.per_feed_metrics})
    return running.model_copy(update={"feeds": new.feeds, "log": log_settings, "ops": ops})


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
    embedded_broker: bool = False  # publish into a throwaway embedded broker, on purpose


async def replay(settings: Settings, options: ReplayOptions) -> int:
    """Replay archives through the live stages; print a summary; 0 when everything was read."""
    _refuse_throwaway_broker(settings, options)
    configure(settings.log.level, settings.log.format)
    settings = _replay_settings(settings, options)
    run_id = _run_id()
    if settings.cluster.enabled and options.sink == "kafka":
        roles.require_shared_broker(settings)
        return await _submit_replay(settings, options, run_id)
    source = ReplaySource(options.paths, since=options.since, until=options.until, run_id=run_id)
    progress = ReplayProgress(
        total=source.total_bytes, tty=sys.stderr.isatty(), position=lambda: source.bytes_done
    )
    with (
        _fresh_state(settings, options.fresh_state) as settings,
        state_lock(settings.state.dir),
    ):
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


async def _submit_replay(settings: Settings, options: ReplayOptions, run_id: str) -> int:
    """Cluster mode: the files become work items for the group's replay workers (the running
    instances); print the run id and return once the broker acknowledged them."""
    items = roles.run_items(options.paths, run_id, since=options.since, until=options.until)
    await roles.submit_run(settings, items)
    print(json.dumps({"run_id": run_id, "files": len(items), "distributed": True}, indent=2))
    return 0


def _refuse_throwaway_broker(settings: Settings, options: ReplayOptions) -> None:
    """Replaying into the embedded broker loses every event at exit: only when asked to."""
    embedded = not settings.kafka.bootstrap_servers and settings.embedded_broker.enabled != "never"
    asked = options.embedded_broker or settings.embedded_broker.enabled == "always"
    if options.sink == "kafka" and embedded and not asked:
        raise UsageError(
            "kafka.bootstrap_servers",
            "replay to Kafka needs kafka.bootstrap_servers (the embedded broker forgets every "
            "event when replay exits); use --sink jsonl:FILE, or --embedded-broker to do it anyway",
        )


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


# -- newsd extract ------------------------------------------------------------------------------


def extract(settings: Settings, paths: list[str], *, url: str | None, jsonl: bool) -> int:
    """Print the article fields of each input as JSON, in input order."""
    configure(settings.log.level, settings.log.format)
    results = extract_paths([Path(p) for p in paths], url=url, settings=settings.extract)
    if jsonl:
        for fields in results:
            print(json.dumps(fields, ensure_ascii=False, default=str))
    else:
        document = results[0] if len(paths) == 1 else results
        print(json.dumps(document, ensure_ascii=False, indent=2, default=str))
    return 0


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


async def _drain(pipeline: Pipeline, grace: float, hurry: asyncio.Event) -> bool:
    """True when the pipeline drained within `grace` seconds and before `hurry` was set."""
    drain = asyncio.create_task(pipeline.drain(timeout=grace))
    hurried = asyncio.create_task(hurry.wait())
    await asyncio.wait({drain, hurried}, return_when=asyncio.FIRST_COMPLETED)
    hurried.cancel()
    if not drain.done():
        drain.cancel()
        log.warning("daemon.drain_cut_short", reason="second signal")
        return False
    return drain.result()


@dataclass(frozen=True)
class StopSignals:
    """SIGTERM / SIGINT as two events: the first asks to stop (drain, then exit 0), the second
    to hurry (end the drain now).  SIGHUP, when asked for, sets `hup` (reload)."""

    first: asyncio.Event = field(default_factory=asyncio.Event)
    second: asyncio.Event = field(default_factory=asyncio.Event)

    def install(self, hup: asyncio.Event | None = None) -> StopSignals:
        loop = asyncio.get_running_loop()
        handlers: list[tuple[signal.Signals, Callable[[], None]]] = [
            (sig, functools.partial(self.received, sig)) for sig in (signal.SIGINT, signal.SIGTERM)
        ]
        if hup is not None:
            handlers.append((signal.SIGHUP, hup.set))
        for sig, handler in handlers:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, handler)
        return self

    def received(self, sig: signal.Signals) -> None:
        if self.first.is_set():
            self.second.set()
        else:
            self.first.set()
        log.info("daemon.signal", signal=sig.name, hurry=self.second.is_set())


async def tail(
    settings: Settings, topic: str, *, from_beginning: bool, limit: int | None, full: bool
) -> int:
    """Print events from `topic` (or a channel name) until interrupted or `limit` reached."""
    configure(settings.log.level, settings.log.format)
    bootstrap = settings.kafka.bootstrap_servers or _embedded_address(settings)
    channels = {str(channel): name for channel, name in topic_names(settings.kafka.topics).items()}
    name = channels.get(topic, topic)
    consumer = AIOKafkaConsumer(
        **client_options(settings.kafka, bootstrap),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
        known = await consumer.topics()  # before subscribing, which may auto-create the topic
        consumer.subscribe([name])
    except KafkaError as exc:
        raise SinkError("kafka_connect", f"{bootstrap}: {exc}") from exc
    if name not in known:
        log.warning("tail.unknown_topic", topic=name, known=sorted(channels.values()))
    log.info(
        "tail.waiting",
        topic=name,
        bootstrap_servers=bootstrap,
        start="oldest" if from_beginning else "new events only",
        stop="Ctrl-C" if limit is None else f"after {limit} events",
    )
    stop = StopSignals().install().first
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
