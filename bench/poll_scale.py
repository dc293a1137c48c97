"""Poll N feeds served by a local server: feeds polled per second and peak RSS.

The server runs in a separate process (a raw asyncio HTTP/1.1 server with keep-alive) and listens
on many loopback addresses 127.0.x.y, so the per-domain politeness of the real fetcher (one
domain per address) does not serialise the feeds.  The polling process runs the real `Poller`,
the real guarded `HttpFetcher` (127.0.0.0/8 allowed) and the feed state in SQLite; `emit`
settles every entry as published at once (an instantly acknowledging pipeline).

Rounds: `cold` (first poll of every feed: all 200, parsed, every entry emitted), `304` (nothing
changed: conditional GETs answered 304), `mix` (`--changed` of the feeds answer 200 with one new
item, the rest 304).

    PYTHONPATH=. python bench/poll_scale.py --feeds 10000 --hosts 2500
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import ClassVar

import structlog

from daemon.fetch.client import HttpFetcher
from daemon.records import FeedEntry, FeedSpec
from daemon.settings import FetchSettings, PollSettings
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

    GET /_round/<fraction>: bump the version of that fraction of the feeds (chosen at random).
    """

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
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
        }
        if path.startswith("/_round/"):
            return self.new_round(float(path.rsplit("/", 1)[1]))
        feed = int(path.rsplit("/", 1)[1])
        version = self.versions.get(feed, 0)
        etag = f'"{feed}-{version}"'
        if headers.get("if-none-match") == etag:
            return (
                f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nContent-Length: 0\r\n\r\n".encode()
            )
        body = feed_body(feed, version)
        return (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: {etag}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    def new_round(self, fraction: float) -> bytes:
        count = len(self.versions) or 0
        for feed in random.Random(count).sample(sorted(self.versions), int(count * fraction)):
            self.versions[feed] += 1
        return b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def serve(port: int, feeds: int, hosts: int, ready: multiprocessing.synchronize.Event) -> None:
    FeedServer.versions = dict.fromkeys(range(feeds), 0)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        addresses = [host_of(i) for i in range(hosts)]
        server = await loop.create_server(FeedServer, host=addresses, port=port, backlog=4096)
        ready.set()
        await server.serve_forever()

    asyncio.run(main())


# ---------------------------------------------------------------- the polling process


async def settle_at_once(entry: FeedEntry) -> None:
    if entry.settle is not None:
        await entry.settle(entry, True)


async def timed_round(poller: Poller, name: str, feeds: int) -> dict[str, object]:
    before = Counter(poller.counts)
    started = time.perf_counter()
    await poller.run_once()
    elapsed = time.perf_counter() - started
    counts = poller.counts - before
    return {
        "round": name,
        "seconds": round(elapsed, 2),
        "feeds_per_s": round(feeds / elapsed),
        "200": counts["poll.ok"] + counts["poll.unchanged"],
        "304": counts["poll.not_modified"],
        "errors": sum(v for k, v in counts.items() if k.startswith("poll.error")),
        "new_entries": counts["entries.new"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


async def poll(args: argparse.Namespace) -> list[dict[str, object]]:
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
        async with HttpFetcher(fetch_settings) as fetcher:
            repo = FeedStateRepo(store)
            poller = Poller(settings, specs, fetcher, repo, settle_at_once)
            rows = [await timed_round(poller, "cold (all 200)", args.feeds)]
            rows.append(await timed_round(poller, "304", args.feeds))
            await fetcher.get(f"http://127.0.1.1:{args.port}/_round/{args.changed}", kind="feed")
            rows.append(await timed_round(poller, f"mix ({args.changed:.0%} 200)", args.feeds))
            rows.append(await timed_round(poller, "304", args.feeds))
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
    parser.add_argument("--profile", help="write a pyinstrument HTML profile here")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    ready = multiprocessing.get_context("spawn").Event()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(args.port, args.feeds, args.hosts, ready), daemon=True
    )
    server.start()
    ready.wait(30)
    try:
        rows = run(args)
    finally:
        server.terminate()
    print(
        f"{'round':<16} {'seconds':>8} {'feeds/s':>8} {'200':>6} {'304':>6} {'errors':>6} "
        f"{'new':>7} {'peak RSS MB':>11}"
    )
    for r in rows:
        print(
            f"{r['round']:<16} {r['seconds']:>8} {r['feeds_per_s']:>8} {r['200']:>6} "
            f"{r['304']:>6} {r['errors']:>6} {r['new_entries']:>7} {r['peak_rss_mb']:>11}"
        )
    print(
        f"python {sys.version.split()[0]}, feeds={args.feeds} hosts={args.hosts} "
        f"concurrency={args.concurrency} domain_interval={args.domain_interval}"
    )


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    if not args.profile:
        return asyncio.run(poll(args))
    from pyinstrument import Profiler

    with Profiler(async_mode="enabled") as profiler:
        rows = asyncio.run(poll(args))
    Path(args.profile).write_text(profiler.output_text(unicode=True, show_all=False))
    return rows


if __name__ == "__main__":
    main()
