"""Benchmark of the fetch layer against a local HTTP server (no corpora needed).

Prints a table: requests/s through `PoliteClient` (guard + politeness + capped decoding) next to
a bare `httpx.AsyncClient`, and the time and peak Python memory to refuse a gzip bomb.

    PYTHONPATH=. python bench/fetch_local.py --requests 2000 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import time
import tracemalloc
from collections.abc import Awaitable, Callable

import httpx

from daemon.errors import FetchError
from daemon.fetch.client import PoliteClient
from daemon.settings import FetchSettings
from tests.httpserver import HttpServer, Reply

PAGE = b"<html><body>" + b"<p>news paragraph</p>" * 200 + b"</body></html>"


def _settings(**overrides: object) -> FetchSettings:
    values: dict[str, object] = {
        "allow_private_networks": ["127.0.0.1/32"],
        "per_domain_min_interval": 0.0,
        "per_domain_concurrency": 1000,
        **overrides,
    }
    return FetchSettings.model_validate(values)


async def _rate(get: Callable[[str], Awaitable[object]], urls: list[str], width: int) -> float:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)

    async def worker() -> None:
        while not queue.empty():
            await get(queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(width)))
    return len(urls) / (time.perf_counter() - started)


async def _throughput(server: HttpServer, n: int, width: int) -> tuple[float, float]:
    urls = [server.url(f"/page?{i}") for i in range(n)]
    async with PoliteClient(_settings()) as fetcher:
        ours = await _rate(lambda u: fetcher.get(u, kind="page"), urls, width)
    async with httpx.AsyncClient() as client:
        bare = await _rate(client.get, urls, width)
    return ours, bare


async def _bomb(server: HttpServer, cap: int) -> tuple[float, float, str]:
    async with PoliteClient(_settings(max_decompressed_bytes=cap)) as fetcher:
        tracemalloc.start()
        started = time.perf_counter()
        try:
            await fetcher.get(server.url("/bomb"), kind="page")
            outcome = "accepted"
        except FetchError as exc:
            outcome = exc.reason
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return elapsed, peak / 1e6, outcome


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--bomb-mb", type=int, default=100, help="zeros inside the gzip bomb")
    args = parser.parse_args()
    bomb = gzip.compress(b"\0" * (args.bomb_mb * 1_000_000), compresslevel=9)
    with HttpServer() as server:
        server.route("/page", Reply(body=PAGE, gzip=True, headers={"Content-Type": "text/html"}))
        server.route("/bomb", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
        ours, bare = await _throughput(server, args.requests, args.concurrency)
        elapsed, peak_mb, outcome = await _bomb(server, cap=20_000_000)
    print(f"{'measure':<44} {'value':>12}")
    print(f"{'PoliteClient req/s (gzip page, local)':<44} {ours:>12.0f}")
    print(f"{'bare httpx.AsyncClient req/s (same)':<44} {bare:>12.0f}")
    print(f"{f'gzip bomb {args.bomb_mb} MB as {len(bomb) // 1000} KB: outcome':<44} {outcome:>12}")
    print(f"{'  time to refuse (s)':<44} {elapsed:>12.3f}")
    print(f"{'  peak traced memory (MB, cap 20 MB)':<44} {peak_mb:>12.1f}")


if __name__ == "__main__":
    asyncio.run(main())
