"""End to end: feeds over HTTP → newsd → Kafka acknowledgement, against the references.

    PYTHONPATH=. python bench/e2e.py --corpora ../shared/corpora [--pages 400] [--feeds 20]
                                     [--reposts 0.1] [--latency] [--out e2e.json]
                                     [--keep DIR] [--profile-newsd FILE]

One run, one set of pages (several hundred distinct real news pages, round-robin from the
scrapinghub, fundus, l3s-gn1 and trafilatura-eval corpora), one broker (Tansu, started here on a
free loopback port) and one HTTP server on 127.0.0.1 in its own process, serving `--feeds` RSS
feeds whose items link to the pages; `--reposts` of the pages are also published under a second
URL with other chrome (a syndication header and footer).  Every measured run is a separate
process, so the figures cover the same things for each:

- newsd: the real daemon, `python -m daemon run --once` with a generated config;
- trafilatura loop: `trafilatura.extract(favor_precision=True)` over the same page bodies (the
  served bytes, reposts included) in one process, no network, no Kafka;
- sequential: the pipeline written the obvious way with the same libraries (httpx, feedparser,
  trafilatura, aiokafka): for each feed, for each entry, fetch, extract, `send_and_wait`.

Figures per run:

- articles/s: acknowledged articles (or extracted pages, for the loop) / process wall-clock
  from launch to exit, start-up included;
- CPU s/article: user + system CPU of the whole process tree (newsd, its forkserver and its
  extraction workers): each process's own CPU time sampled from /proc every 50 ms, summed (or
  `wait4()`'s figure for the process and the descendants it reaped, if larger); "top proc" is
  the top process alone (for newsd: the event loop);
- peak RSS: the largest sum of resident memory over the process and its descendants, sampled
  from /proc every 50 ms (shared copy-on-write pages count once per process: the pages the
  extraction workers inherit from the forkserver count three times); peak PSS next to it, from
  the same samples, counts a page shared by n processes 1/n in each, so once over the tree; the
  JSON also keeps each process's RSS at the peak;
- latency: item-to-ack, from the moment the server makes the item visible in its feed to the
  moment this script's Kafka consumer (fetch wait 10 ms, reading every topic from the start) has
  received the item's event; the broker acknowledged the event before the consumer can read it,
  so this is an upper bound of item-to-ack (by the consumer's fetch delay).  With `run --once`
  every item is visible before the daemon starts, so these latencies include start-up and the
  backlog: they are a completion-time distribution, not a steady-state latency.

`--latency` adds the steady-state mode: `newsd run` runs continuously with a short poll interval
(`--poll-interval`, min = max = default interval) while the server makes items visible at a
steady rate, at 10, 50 and 90 % of the maximum rate measured by the throughput run; it reports
p50/p99 item-to-ack latency and the same minus the poll interval.

The machine's load average is recorded next to every figure: on a shared machine wall-clock rates
depend on what else runs; CPU s/article much less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer

from bench.corpora import LOADERS
from daemon.settings import load
from daemon.sinks.embedded import EmbeddedBroker, free_port
from daemon.sinks.kafka import ensure_topics, topic_names

REPO = Path(__file__).resolve().parents[1]
CORPORA = ("scrapinghub", "fundus", "l3s-gn1", "trafilatura-eval")
HEADER = (
    b'<div class="syndication"><nav><ul><li><a href="/">The Daily Relay</a></li>'
    b'<li><a href="/world">World</a></li><li><a href="/business">Business</a></li>'
    b'<li><a href="/subscribe">Subscribe</a></li></ul></nav>'
    b"<p>This story was republished by The Daily Relay under a syndication agreement.</p></div>"
)
FOOTER = (
    b'<footer class="relay"><p>Copyright The Daily Relay. All rights reserved.</p>'
    b'<ul><li><a href="/privacy">Privacy</a></li><li><a href="/terms">Terms</a></li></ul></footer>'
)


# ---------------------------------------------------------------- the pages and the feeds


@dataclass(frozen=True, slots=True)
class Item:
    """One feed item: `path` on the server, visible from `offset` seconds after the start."""

    feed: int
    path: str
    title: str
    offset: float


def load_pages(root: Path, count: int) -> list[tuple[str, bytes]]:
    """(title, html) of `count` distinct pages, round-robin over the corpora, in a stable order."""
    streams = [iter(LOADERS[name](root)) for name in CORPORA]
    pages: list[tuple[str, bytes]] = []
    seen: set[bytes] = set()
    while len(pages) < count and streams:
        for stream in list(streams):
            doc = next(stream, None)
            if doc is None:
                streams.remove(stream)
            elif doc.html and doc.html not in seen:
                seen.add(doc.html)
                pages.append(((doc.title or doc.id)[:200], doc.html))
    return pages[:count]


def with_chrome(html: bytes) -> bytes:
    """The same page under other chrome: a syndication header after <body>, a footer before
    </body> (or around the document when it has neither)."""
    lower = html.lower()
    start = lower.find(b"<body")
    start = lower.find(b">", start) + 1 if start >= 0 else 0
    end = lower.rfind(b"</body")
    end = end if end >= start else len(html)
    return html[:start] + HEADER + html[start:end] + FOOTER + html[end:]


def build_site(
    pages: list[tuple[str, bytes]], feeds: int, reposts: float, rate: float | None
) -> tuple[dict[str, bytes], list[Item]]:
    """Bodies by path and the items, in order of appearance (all at 0 when `rate` is None)."""
    bodies: dict[str, bytes] = {}
    items: list[Item] = []
    every = round(1 / reposts) if reposts > 0 else 0
    for index, (title, html) in enumerate(pages):
        bodies[f"/a/{index}"] = html
        items.append(Item(index % feeds, f"/a/{index}", title, 0.0))
        if every and index % every == every - 1:
            bodies[f"/r/{index}"] = with_chrome(html)
            items.append(Item((index + 1) % feeds, f"/r/{index}", title, 0.0))
    if rate:
        items = [Item(i.feed, i.path, i.title, n / rate) for n, i in enumerate(items)]
    return bodies, items


def rss(base: str, feed: int, items: list[Item], start: float, keep: int) -> bytes:
    """RSS 2.0 of the feed's items visible at this moment (newest `keep`), newest first."""
    visible = [i for i in items if i.feed == feed and start + i.offset <= time.time()][-keep:]
    parts = [
        f"<item><title>{escape(i.title)}</title><link>{base}{i.path}</link>"
        f"<guid>{base}{i.path}</guid><pubDate>{formatdate(start + i.offset, usegmt=True)}"
        f"</pubDate></item>"
        for i in reversed(visible)
    ]
    return (
        f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Feed {feed}</title><link>{base}/</link>{''.join(parts)}</channel></rss>"
    ).encode()


# ---------------------------------------------------------------- the server process


class Site:
    """What the server process serves; `start` (wall-clock seconds, shared) is when offset 0 is."""

    def __init__(self, bodies: dict[str, bytes], items: list[Item], start: Any, polls: Any):
        self.bodies, self.items, self.start, self.polls = bodies, items, start, polls


def serve(site: Site, port: int, ready: Any) -> None:
    """The server process: feeds at /feed/<n>, pages at their paths, 404 otherwise."""
    base = f"http://127.0.0.1:{port}"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path.startswith("/feed/"):
                with site.polls.get_lock():
                    site.polls.value += 1
                feed = int(self.path.rsplit("/", 1)[1])
                body = rss(base, feed, site.items, site.start.value, keep=100)
                self._reply(200, "application/rss+xml", body)
            elif self.path in site.bodies:
                self._reply(200, "text/html", site.bodies[self.path])
            else:
                self._reply(404, "text/plain", b"not found")

        def _reply(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ready.set()
    server.serve_forever()


@dataclass
class Server:
    """The server process; `begin()` makes the items' clock start now."""

    site: Site
    port: int
    process: Any = None

    def __enter__(self) -> Server:
        context = multiprocessing.get_context("fork")
        ready = context.Event()
        self.process = context.Process(target=serve, args=(self.site, self.port, ready))
        self.process.start()
        if not ready.wait(10):
            raise RuntimeError("the bench HTTP server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(5)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def begin(self, delay: float = 0.0) -> float:
        self.site.start.value = time.time() + delay
        return float(self.site.start.value)


def new_site(bodies: dict[str, bytes], items: list[Item]) -> Site:
    context = multiprocessing.get_context("fork")
    return Site(bodies, items, context.Value("d", 1e12), context.Value("q", 0))


# ---------------------------------------------------------------- measuring a process tree


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().rpartition(")")
        except OSError:
            continue
        tree.setdefault(int(rest.split()[1]), []).append(int(head.split(" (")[0]))
    return tree


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, from /proc."""
    tree, todo, found = _children(), [pid], []
    while todo:
        current = todo.pop()
        found.append(current)
        todo += tree.get(current, [])
    return found


def tree_rss(pids: list[int]) -> int:
    """Resident bytes of `pids`, summed."""
    total, page = 0, os.sysconf("SC_PAGE_SIZE")
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError):
            continue
    return total


def tree_pss(pids: list[int]) -> int:
    """Proportional set size of `pids`, summed: a page shared by n processes counts 1/n in each,
    so the forkserver's pages its workers inherit count once over the tree."""
    total = 0
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in rollup.splitlines() if line[:4] == "Pss:")
    return total * 1024


def process_rss(pids: list[int]) -> dict[str, float]:
    """Resident MB of each process of the tree, keyed by pid and a short name."""
    found, page = {}, os.sysconf("SC_PAGE_SIZE")
    for pid in pids:
        try:
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        found[f"{pid} {_role(argv)}"] = round(resident / 2**20, 1)
    return found


def _role(argv: list[bytes]) -> str:
    text = b" ".join(argv).decode(errors="replace")
    for marker, name in (
        ("forkserver", "forkserver (or its worker)"),
        ("resource_tracker", "resource tracker"),
        ("-m daemon", "newsd"),
    ):
        if marker in text:
            return name
    return text[:40]


def own_cpu(pid: int) -> float | None:
    """User + system CPU seconds of `pid` itself, from /proc (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    """One process tree's run: exit code, wall seconds, CPU seconds, peak RSS bytes."""

    code: int
    wall: float
    cpu: float
    peak_rss: int
    root_cpu: float  # the top process alone (newsd: the event loop), last sampled before exit
    stdout: str = ""
    peak_pss: int = 0
    rss_at_peak: dict[str, float] = field(default_factory=dict)  # MB per process, at peak RSS


def measure(cmd: list[str], env: dict[str, str], stderr_to: Path) -> Measured:
    """Run `cmd` to its end, sampling its tree's RSS; CPU from wait4 (reaped descendants too)."""
    peak, pss, cpu, done = [0], [0], dict[int, float](), threading.Event()
    at_peak: dict[str, float] = {}
    started = time.perf_counter()
    with stderr_to.open("wb") as errors:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=errors)

        def sample() -> None:
            while not done.wait(0.05):
                pids = descendants(proc.pid)
                resident = tree_rss(pids)
                if resident > peak[0]:
                    peak[0] = resident
                    at_peak.clear()
                    at_peak.update(process_rss(pids))
                pss[0] = max(pss[0], tree_pss(pids))
                for pid in pids:
                    cpu[pid] = own_cpu(pid) or cpu.get(pid, 0.0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        assert proc.stdout is not None
        stdout = proc.stdout.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    # wait4 counts the descendants the process reaped; the samples also count those it did
    # not (the extraction workers are children of a forkserver), less their last 50 ms.
    total = max(usage.ru_utime + usage.ru_stime, sum(cpu.values()))
    root = cpu.get(proc.pid, 0.0)
    return Measured(proc.returncode, wall, total, peak[0], root, stdout, pss[0], at_peak)


# ---------------------------------------------------------------- the Kafka side


@dataclass
class Acks:
    """Events seen by the consumer: url → (receive wall time, event type)."""

    seen: dict[str, tuple[float, str]] = field(default_factory=dict)
    errors: int = 0


async def consume(bootstrap: str, topics: list[str], acks: Acks, stop: asyncio.Event) -> None:
    """Read `topics` from the start until `stop`, noting when each item's event arrived."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                for record in records:
                    note(acks, record.value, now)
    finally:
        await consumer.stop()


def note(acks: Acks, value: bytes | None, now: float) -> None:
    event = json.loads(value or b"{}")
    if event.get("type") == "article.failed":
        acks.errors += 1
        return
    acks.seen.setdefault(event["url"], (now, event.get("type", "")))


def latencies(acks: Acks, items: list[Item], start: float, base: str) -> list[float]:
    return sorted(
        acks.seen[base + i.path][0] - (start + i.offset)
        for i in items
        if base + i.path in acks.seen
    )


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# ---------------------------------------------------------------- the runs


def newsd_config(
    folder: Path, bootstrap: str, prefix: str, feeds: list[str], poll: float | None
) -> Path:
    lines = [
        "[log]",
        'format = "json"',
        "[kafka]",
        f'bootstrap_servers = "{bootstrap}"',
        "enable_idempotence = false",
        "[kafka.topics]",
        f'prefix = "{prefix}"',
        "[fetch]",
        'allow_private_networks = ["127.0.0.1/32"]',
        "per_domain_min_interval = 0",
        "per_domain_concurrency = 16",
    ]
    if poll is not None:
        lines += ["[poll]", f"min_interval = {poll}", f"max_interval = {poll}"]
        lines += [f"default_interval = {poll}", "jitter = 0", "tick = 0.1"]
    for n, url in enumerate(feeds):
        lines += ["[[feeds]]", f'id = "bench-{n}"', f'url = "{url}"', 'publisher = "Bench"']
    path = folder / f"{prefix}newsd.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@dataclass
class Row:
    """One line of the throughput table."""

    run: str
    articles: int
    wall_s: float
    articles_per_s: float
    cpu_s_per_article: float
    top_process_cpu_s_per_article: float
    peak_rss_mb: float
    p50_s: float | None
    p99_s: float | None
    load_1min: float
    note: str = ""
    peak_pss_mb: float = 0.0  # the same samples' largest PSS sum (shared pages counted once)
    rss_at_peak_mb: dict[str, float] = field(default_factory=dict)


def row(name: str, count: int, run: Measured, lat: list[float], note: str = "") -> Row:
    return Row(
        name,
        count,
        round(run.wall, 2),
        round(count / run.wall, 1) if run.wall else 0.0,
        round(run.cpu / count, 4) if count else float("nan"),
        round(run.root_cpu / count, 4) if count else float("nan"),
        round(run.peak_rss / 2**20, 1),
        _round(percentile(lat, 50)),
        _round(percentile(lat, 99)),
        round(os.getloadavg()[0], 2),
        note,
        round(run.peak_pss / 2**20, 1),
        run.rss_at_peak,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def live_run(
    cmd: list[str], bootstrap: str, topics: list[str], log: Path
) -> tuple[Measured, Acks]:
    """Run a live pipeline process while consuming its topics; stop reading 2 s after it exits."""
    acks, stop = Acks(), asyncio.Event()
    reader = asyncio.create_task(consume(bootstrap, topics, acks, stop))
    await asyncio.sleep(0.5)  # the consumer is assigned before the first event
    run = await asyncio.to_thread(measure, cmd, child_env(), log)
    await asyncio.sleep(2.0)
    stop.set()
    await reader
    return run, acks


async def run_newsd_once(ctx: Context, server: Server, items: list[Item]) -> Row:
    prefix = "once."
    settings = _kafka(ctx.bootstrap, prefix)
    await ensure_topics(settings, ctx.bootstrap)
    feeds = [server.url(f"/feed/{n}") for n in range(ctx.feeds)]
    config = newsd_config(ctx.folder, ctx.bootstrap, prefix, feeds, None)
    state = ctx.folder / "state-once"
    profile = ["-m", "cProfile", "-o", str(ctx.profile)] if ctx.profile else []
    cmd = [sys.executable, *profile, "-m", "daemon", "run", "--once", "--config", str(config)]
    cmd += ["--state", str(state)]
    start = server.begin()
    run, acks = await live_run(cmd, ctx.bootstrap, _event_topics(prefix), ctx.folder / "once.log")
    lat = latencies(acks, items, start, server.url(""))
    _check(run, ctx.folder / "once.log")
    note = f"{acks.errors} error events" if acks.errors else ""
    return row("newsd run --once", len(acks.seen), run, lat, note)


async def run_sequential(ctx: Context, server: Server, items: list[Item]) -> Row:
    prefix = "naive."
    await ensure_topics(_kafka(ctx.bootstrap, prefix), ctx.bootstrap)
    topic = topic_names(_kafka(ctx.bootstrap, prefix).topics)["articles"]
    feeds = [server.url(f"/feed/{n}") for n in range(ctx.feeds)]
    cmd = [sys.executable, __file__, "--child", "sequential", ctx.bootstrap, topic, *feeds]
    start = server.begin()
    run, acks = await live_run(cmd, ctx.bootstrap, [topic], ctx.folder / "naive.log")
    _check(run, ctx.folder / "naive.log")
    lat = latencies(acks, items, start, server.url(""))
    return row("sequential pipeline", len(acks.seen), run, lat)


def run_loop(ctx: Context, bodies: dict[str, bytes]) -> Row:
    folder = ctx.folder / "bodies"
    folder.mkdir(exist_ok=True)
    for n, body in enumerate(bodies.values()):
        (folder / f"{n:05d}.html").write_bytes(body)
    cmd = [sys.executable, __file__, "--child", "loop", str(folder)]
    run = measure(cmd, child_env(), ctx.folder / "loop.log")
    _check(run, ctx.folder / "loop.log")
    extracted = json.loads(run.stdout)
    note = f"{extracted['texts']} of {len(bodies)} gave text; loop alone {extracted['loop_s']} s"
    return row("trafilatura loop", len(bodies), run, [], note)


def _kafka(bootstrap: str, prefix: str) -> Any:
    return load(None, kafka={"bootstrap_servers": bootstrap, "topics": {"prefix": prefix}}).kafka


def _event_topics(prefix: str) -> list[str]:
    """The topics carrying one event per item (story summaries are not about one item)."""
    settings = _kafka("unused:1", prefix)
    return [t for channel, t in topic_names(settings.topics).items() if channel != "stories"]


def _check(run: Measured, log: Path) -> None:
    if run.code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"a measured process exited {run.code}:\n{tail}")


# ---------------------------------------------------------------- the latency mode


@dataclass
class LatencyRow:
    """One load level of the latency mode."""

    load_pct: int
    rate_per_s: float
    items: int
    acked: int
    p50_s: float | None
    p99_s: float | None
    p50_beyond_poll_s: float | None
    p99_beyond_poll_s: float | None
    load_1min: float


async def run_latency(ctx: Context, pages: list[tuple[str, bytes]], rate: float, pct: int) -> Any:
    """`newsd run` continuously while items appear at `rate`/s for `ctx.duration` seconds."""
    count = max(20, int(rate * ctx.duration))
    bodies, items = build_site(pages[:count], ctx.feeds, ctx.reposts, rate)
    items = items[:count]
    prefix = f"lat{pct}."
    await ensure_topics(_kafka(ctx.bootstrap, prefix), ctx.bootstrap)
    with Server(new_site(bodies, items), free_port()) as server:
        feeds = [server.url(f"/feed/{n}") for n in range(ctx.feeds)]
        config = newsd_config(ctx.folder, ctx.bootstrap, prefix, feeds, ctx.poll)
        cmd = [sys.executable, "-m", "daemon", "run", "--config", str(config)]
        cmd += ["--state", str(ctx.folder / f"state-{prefix}")]
        acks, stop = Acks(), asyncio.Event()
        reader = asyncio.create_task(consume(ctx.bootstrap, _event_topics(prefix), acks, stop))
        with (ctx.folder / f"{prefix}log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(*cmd, cwd=REPO, env=child_env(), stderr=log)
            start = await _begin_when_polled(server, ctx.feeds)
            await _wait_acked(acks, len(items), start + items[-1].offset + 30)
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 60)
        stop.set()
        await reader
        lat = latencies(acks, items, start, server.url(""))
    return _latency_row(pct, rate, len(items), lat, ctx.poll)


async def _begin_when_polled(server: Server, feeds: int) -> float:
    """Start the item clock once the daemon polled every feed (it has started)."""
    deadline = time.time() + 60
    # The count lives in the server process's shared memory: polled, no event to wait on.
    while server.site.polls.value < feeds and time.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    return server.begin(0.2)


async def _wait_acked(acks: Acks, count: int, deadline: float) -> None:
    while len(acks.seen) < count and time.time() < deadline:  # noqa: ASYNC110 - a deadline too
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)


def _latency_row(pct: int, rate: float, items: int, lat: list[float], poll: float) -> LatencyRow:
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    return LatencyRow(
        pct,
        round(rate, 2),
        items,
        len(lat),
        _round(p50),
        _round(p99),
        _round(None if p50 is None else p50 - poll),
        _round(None if p99 is None else p99 - poll),
        round(os.getloadavg()[0], 2),
    )


# ---------------------------------------------------------------- the child processes


def child_loop(folder: str) -> int:
    """The trafilatura reference: extract every body in `folder`, print counts and loop time."""
    import trafilatura

    bodies = [p.read_bytes() for p in sorted(Path(folder).glob("*.html"))]
    started, texts = time.perf_counter(), 0
    for body in bodies:
        texts += bool(trafilatura.extract(body, favor_precision=True))
    print(json.dumps({"texts": texts, "loop_s": round(time.perf_counter() - started, 2)}))
    return 0


def child_sequential(bootstrap: str, topic: str, feeds: list[str]) -> int:
    """The straightforward pipeline: each feed, each entry, fetch → extract → send_and_wait."""
    import feedparser
    import httpx
    import trafilatura
    from aiokafka import AIOKafkaProducer

    async def main() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                for feed_url in feeds:
                    feed = feedparser.parse((await client.get(feed_url)).content)
                    for entry in feed.entries:
                        page = await client.get(entry.link)
                        text = trafilatura.extract(
                            page.content, url=entry.link, favor_precision=True
                        )
                        if text:
                            event = {"url": entry.link, "title": entry.title, "text": text}
                            await producer.send_and_wait(topic, json.dumps(event).encode())
        finally:
            await producer.stop()

    asyncio.run(main())
    return 0


# ---------------------------------------------------------------- main


@dataclass
class Context:
    bootstrap: str
    folder: Path
    feeds: int
    reposts: float
    poll: float
    duration: float
    profile: Path | None = None


def machine() -> dict[str, Any]:
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    memory = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": round(int(memory) / 2**20, 1),
        "python": platform.python_version(),
        "uptime": uptime.strip(),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def print_table(rows: list[Row], lat_rows: list[LatencyRow]) -> None:
    print(
        f"\n{'run':20s} {'n':>5s} {'wall s':>7s} {'art/s':>6s} {'CPU s/art':>9s}"
        f" {'top proc':>9s} {'RSS MB':>7s} {'PSS MB':>7s} {'p50 s':>6s} {'p99 s':>6s} {'load':>5s}"
    )
    for r in rows:
        print(
            f"{r.run:20s} {r.articles:5d} {r.wall_s:7.2f} {r.articles_per_s:6.1f}"
            f" {r.cpu_s_per_article:9.4f} {r.top_process_cpu_s_per_article:9.4f}"
            f" {r.peak_rss_mb:7.1f} {r.peak_pss_mb:7.1f} {_cell(r.p50_s)} {_cell(r.p99_s)}"
            f" {r.load_1min:5.2f}  {r.note}"
        )
    for r in rows:
        if len(r.rss_at_peak_mb) > 1:
            parts = ", ".join(f"{name} {mb:.0f}" for name, mb in r.rss_at_peak_mb.items())
            print(f"RSS MB per process at {r.run}'s peak: {parts}")
    if lat_rows:
        print(
            f"\n{'load %':>6s} {'rate/s':>7s} {'items':>6s} {'acked':>6s} {'p50 s':>6s}"
            f" {'p99 s':>6s} {'p50-poll':>8s} {'p99-poll':>8s} {'load':>5s}"
        )
    for r in lat_rows:
        print(
            f"{r.load_pct:6d} {r.rate_per_s:7.2f} {r.items:6d} {r.acked:6d} {_cell(r.p50_s)}"
            f" {_cell(r.p99_s)} {_cell(r.p50_beyond_poll_s, 8)} {_cell(r.p99_beyond_poll_s, 8)}"
            f" {r.load_1min:5.2f}"
        )


def ratios(rows: list[Row]) -> dict[str, float]:
    """newsd against the references: wall-clock, per core, and by CPU per article."""
    loop, newsd = rows[0], rows[1]
    cores = os.cpu_count() or 1
    out = {
        "newsd_vs_loop_wall": round(newsd.articles_per_s / loop.articles_per_s, 2),
        "newsd_vs_loop_cpu": round(loop.cpu_s_per_article / newsd.cpu_s_per_article, 2),
    }
    if len(rows) > 2:
        naive = rows[2]
        out["newsd_per_core_vs_sequential"] = round(
            newsd.articles_per_s / cores / naive.articles_per_s, 2
        )
        out["newsd_vs_sequential_cpu"] = round(naive.cpu_s_per_article / newsd.cpu_s_per_article, 2)
    return out


def _cell(value: float | None, width: int = 6) -> str:
    return f"{'n/a':>{width}s}" if value is None else f"{value:{width}.2f}"


async def bench(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    pages = load_pages(args.corpora, args.pages)
    bodies, items = build_site(pages, args.feeds, args.reposts, None)
    broker = EmbeddedBroker(port=free_port())
    await broker.start()
    ctx = Context(
        broker.bootstrap_servers,
        folder,
        args.feeds,
        args.reposts,
        args.poll_interval,
        args.duration,
        args.profile_newsd,
    )
    result: dict[str, Any] = {"machine_before": machine(), "command": sys.argv}
    try:
        rows = [run_loop(ctx, bodies)]
        with Server(new_site(bodies, items), free_port()) as server:
            rows.append(await run_newsd_once(ctx, server, items))
            if not args.skip_sequential:
                rows.append(await run_sequential(ctx, server, items))
        lat_rows: list[LatencyRow] = []
        if args.latency:
            top = rows[1].articles_per_s
            for pct in (10, 50, 90):
                lat_rows.append(await run_latency(ctx, pages, top * pct / 100, pct))
    finally:
        await broker.stop()
    print_table(rows, lat_rows)
    result["ratios"] = ratios(rows)
    print("\nratios:", json.dumps(result["ratios"]))
    result |= {
        "distinct_pages": len(pages),
        "served_items": len(items),
        "throughput": [asdict(r) for r in rows],
        "latency": [asdict(r) for r in lat_rows],
        "machine_after": machine(),
    }
    return result


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, rest = sys.argv[2], sys.argv[3:]
        return (
            child_loop(rest[0]) if kind == "loop" else child_sequential(rest[0], rest[1], rest[2:])
        )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, required=True)
    parser.add_argument("--pages", type=int, default=400, help="distinct pages")
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--reposts", type=float, default=0.1, help="share republished elsewhere")
    parser.add_argument("--latency", action="store_true", help="add the steady-rate mode")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load level")
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument(
        "--profile-newsd", type=Path, default=None, help="cProfile the --once run's event loop"
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep configs and logs here")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(bench(args, args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="newsd-e2e-") as folder:
            result = asyncio.run(bench(args, Path(folder)))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
