"""Poll N feeds served by a local server: feeds polled per second and peak RSS.

The server runs in a separate process (a raw asyncio HTTP/1.1 server with keep-alive) and listens
on many loopback addresses 127.0.x.y, so the per-domain politeness of the real fetcher (one
domain per address) does not serialise the feeds.  The polling process runs the real `Poller`,
the real guarded `PoliteClient` (127.0.0.0/8 allowed) and the feed state in SQLite; `emit`
settles every entry as done at once (an instantly acknowledging pipeline).

Rounds: `cold` (first poll of every feed: all 200, parsed, every entry emitted), `304` (nothing
changed: conditional GETs answered 304), `mix` (`--changed` of the feeds answer 200 with one new
item, the rest 304).  Besides wall-clock feeds/s, each row gives the CPU seconds the polling
process spent per 1,000 polls (robust when the machine is shared) and the CPU share of the
server processes (`--server-procs`, sharing the addresses with SO_REUSEPORT), so a server that
saturates its core is visible.  `--loop` picks the poller's event loop (default: uvloop when
installed, like the daemon).

    PYTHONPATH=. python bench/poll_scale.py --feeds 10000 --hosts 2500
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import structlog

from daemon import eventloop
from daemon.fetch.client import PoliteClient
from daemon.records import FeedEntry, FeedSpec
from daemon.settings import FetchSettings, PollSettings
from daemon.sources import feedparse
from daemon.sources.feedstate import FeedStateRepo
from daemon.sources.poller import Poller
from daemon.state.sqlite import Store

ITEMS = 10


def host_of(index: int) -> str:
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


# ---------------------------------------------------------------- the server process


def feed_body(feed: int, version: int) -> bytes:
    items = "".join(
        f"<item><title>Story {feed}-{n}</title><link>http://news.example/{feed}/{n}</link>"
        f"<guid isPermaLink='false'>{feed}-{n}</guid>"
        f"<pubDate>Mon, 05 Jan 2026 10:{n % 60:02d}:00 GMT</pubDate>"
        f"<description>Summary of story {n} of feed {feed}.</description></item>"
        for n in range(version, version + ITEMS)
    )
    return (
        f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Feed {feed}</title><link>http://news.example/{feed}/</link>{items}"
        f"</channel></rss>"
    ).encode()


class FeedServer(asyncio.Protocol):
    """GET /feed/<n> → the feed's current version (200, or 304 on a matching If-None-Match).

    The versions follow `rounds`, a counter shared by every server process: round r bumps the
    version of `fraction` of the feeds, chosen by a generator seeded with r, so every process
    agrees on every feed's version without talking to the others.
    """

    feeds: ClassVar[int] = 0
    fraction: ClassVar[float] = 0.0
    rounds: ClassVar[Any] = None  # multiprocessing RawValue("i")
    seen_round: ClassVar[int] = 0
    versions: ClassVar[dict[int, int]] = {}  # feed → version, shared by every connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            self.transport.write(self.answer(head))

    def answer(self, head: bytes) -> bytes:
        self.catch_up()
        line, _, rest = head.partition(b"\r\n")
        feed = int(line.split(b" ", 2)[1].rsplit(b"/", 1)[1])
        etag = f'"{feed}-{self.versions.get(feed, 0)}"'.encode()
        start = rest.lower().find(b"if-none-match:")
        if start >= 0:
            end = rest.find(b"\r\n", start)
            if rest[start + 14 : end if end >= 0 else None].strip() == etag:
                return (
                    b"HTTP/1.1 304 Not Modified\r\nETag: " + etag + b"\r\nContent-Length: 0\r\n\r\n"
                )
        body = feed_body(feed, self.versions.get(feed, 0))
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: "
            + etag
            + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    @classmethod
    def catch_up(cls) -> None:
        while cls.seen_round < cls.rounds.value:
            cls.seen_round += 1
            chosen = random.Random(cls.seen_round).sample(
                range(cls.feeds), int(cls.feeds * cls.fraction)
            )
            for feed in chosen:
                cls.versions[feed] = cls.versions.get(feed, 0) + 1


def serve(
    port: int,
    feeds: int,
    hosts: int,
    fraction: float,
    rounds: Any,
    ready: multiprocessing.synchronize.Event,
) -> None:
    FeedServer.feeds, FeedServer.fraction, FeedServer.rounds = feeds, fraction, rounds

    async def main() -> None:
        loop = asyncio.get_running_loop()
        addresses = [host_of(i) for i in range(hosts)]
        server = await loop.create_server(
            FeedServer, host=addresses, port=port, backlog=4096, reuse_port=True
        )
        ready.set()
        await server.serve_forever()

    eventloop.run(main())


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- the polling process


async def settle_at_once(entry: FeedEntry) -> None:
    if entry.settle is not None:
        await entry.settle(entry, True)


async def timed_round(
    poller: Poller, name: str, feeds: int, servers: list[int]
) -> dict[str, object]:
    before = Counter(poller.counts)
    started, cpu, server_cpu = (
        time.perf_counter(),
        own_cpu_seconds(),
        sum(map(cpu_seconds, servers)),
    )
    await poller.run_once()
    elapsed = time.perf_counter() - started
    cpu = own_cpu_seconds() - cpu
    server_cpu = sum(map(cpu_seconds, servers)) - server_cpu
    counts = poller.counts - before
    return {
        "round": name,
        "seconds": round(elapsed, 2),
        "feeds_per_s": round(feeds / elapsed),
        "cpu_per_1k": round(cpu / feeds * 1000, 3),
        "server_cpu": round(100 * server_cpu / elapsed),
        "200": counts["poll.ok"] + counts["poll.unchanged"],
        "304": counts["poll.not_modified"],
        "errors": sum(v for k, v in counts.items() if k.startswith("poll.error")),
        "new_entries": counts["entries.new"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


async def poll(
    args: argparse.Namespace, rounds: Any, servers: list[int]
) -> list[dict[str, object]]:
    specs = [
        FeedSpec(feed_id=f"feed-{i}", url=f"http://{host_of(i % args.hosts)}:{args.port}/feed/{i}")
        for i in range(args.feeds)
    ]
    fetch_settings = FetchSettings(
        allow_private_networks=["127.0.0.0/8"],
        global_concurrency=args.concurrency,
        per_domain_min_interval=args.domain_interval,
    )
    settings = PollSettings(concurrency=args.concurrency, force_full_fetch_every=1000)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.in_dir(Path(tmp))
        await store.open()
        async with PoliteClient(fetch_settings) as fetcher:
            repo = FeedStateRepo(store)
            poller = Poller(settings, specs, fetcher, repo, settle_at_once)
            rows = [await timed_round(poller, "cold (all 200)", args.feeds, servers)]
            profiling = Profiling(args.profile)
            profiling.start()
            rows.append(await timed_round(poller, "304", args.feeds, servers))
            rounds.value += 1
            mix = f"mix ({args.changed:.0%} 200)"
            rows.append(await timed_round(poller, mix, args.feeds, servers))
            rows.append(await timed_round(poller, "304", args.feeds, servers))
            profiling.stop()
        await store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=2500, help="loopback addresses (domains)")
    parser.add_argument("--concurrency", type=int, default=200, help="poll.concurrency")
    parser.add_argument("--changed", type=float, default=0.3, help="fraction 200 in the mix")
    parser.add_argument("--domain-interval", type=float, default=1.0)
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--profile", help="write a pyinstrument text profile here")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--server-procs", type=int, default=1, help="server processes")
    parser.add_argument(
        "--fast-path", choices=["on", "off"], default="on", help="fastfeedparser fast path"
    )
    args = parser.parse_args()
    feedparse.FAST_PATH = feedparse.FAST_PATH and args.fast_path == "on"
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    context = multiprocessing.get_context("spawn")
    rounds = context.RawValue("i", 0)
    servers = []
    for _ in range(args.server_procs):
        ready = context.Event()
        server = context.Process(
            target=serve,
            args=(args.port, args.feeds, args.hosts, args.changed, rounds, ready),
            daemon=True,
        )
        server.start()
        ready.wait(60)
        servers.append(server)
    try:
        rows = run(args, rounds, [s.pid for s in servers if s.pid is not None])
    finally:
        for server in servers:
            server.terminate()
    print_table(args, rows)


def print_table(args: argparse.Namespace, rows: list[dict[str, object]]) -> None:
    print(
        f"{'round':<16} {'seconds':>8} {'feeds/s':>8} {'CPU s/1k':>8} {'srv CPU%':>8} "
        f"{'200':>6} {'304':>6} {'errors':>6} {'new':>7} {'peak RSS MB':>11}"
    )
    for r in rows:
        print(
            f"{r['round']:<16} {r['seconds']:>8} {r['feeds_per_s']:>8} {r['cpu_per_1k']:>8} "
            f"{r['server_cpu']:>8} {r['200']:>6} {r['304']:>6} {r['errors']:>6} "
            f"{r['new_entries']:>7} {r['peak_rss_mb']:>11}"
        )
    loop = eventloop.loop_name(eventloop.loop_factory(args.loop))
    print(
        f"python {sys.version.split()[0]}, loop={loop}, feeds={args.feeds} hosts={args.hosts} "
        f"concurrency={args.concurrency} domain_interval={args.domain_interval} "
        f"server_procs={args.server_procs}"
    )


def run(args: argparse.Namespace, rounds: Any, servers: list[int]) -> list[dict[str, object]]:
    return eventloop.run(poll(args, rounds, servers), loop=args.loop)


class Profiling:
    """A pyinstrument profile of the rounds after the cold one (`--profile FILE`), or nothing."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.profiler: Any = None

    def start(self) -> None:
        if self.path:
            from pyinstrument import Profiler

            self.profiler = Profiler(async_mode="disabled")
            self.profiler.start()

    def stop(self) -> None:
        if self.profiler is not None and self.path:
            self.profiler.stop()
            Path(self.path).write_text(self.profiler.output_text(unicode=True, show_all=False))


if __name__ == "__main__":
    main()
