"""Feed parsing speed over the feed corpora: feedparser only vs the fastfeedparser fast path.

For every file of the six feed corpora, `parse_feed` runs `--repeat` times with the fast path off
and on (the best time of the repeats counts).  Prints total and per-feed median times per corpus,
and the share of files the fast path answered (the rest fell back to feedparser).

    PYTHONPATH=. python bench/feed_parse.py --corpora ../shared/corpora
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from daemon.errors import FeedError
from daemon.records import Origin
from daemon.sources.fastfeed import parse_fast
from daemon.sources.feedparse import parse_feed
from tests.conftest import FEED_CORPORA, corpus_files

ORIGIN = Origin(kind="feed", id="bench", url="https://news.example/feed")
URL = "https://news.example/feeds/main.xml"


def best_time(call: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        with contextlib.suppress(FeedError):
            call()
        best = min(best, time.perf_counter() - started)
    return best


def measure(files: list[Path], repeat: int) -> list[tuple[float, float, bool]]:
    """Per file: best feedparser-only time, best fast-path time, whether the fast path answered."""
    rows = []
    for path in files:
        body = path.read_bytes()
        slow = best_time(partial(_parse, body, False), repeat)
        fast = best_time(partial(_parse, body, True), repeat)
        taken = parse_fast(body, url=URL, ctype="", origin=ORIGIN, headers={}) is not None
        rows.append((slow, fast, taken))
    return rows


def _parse(body: bytes, fast: bool) -> object:
    return parse_feed(body, url=URL, content_type="", origin=ORIGIN, fast=fast)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'corpus':<32} {'files':>5} {'fast%':>6} {'feedparser s':>12} {'fast path s':>11}"
        f" {'fp med ms':>9} {'fast med ms':>11} {'taken: fp s':>11} {'taken: fast s':>13}"
    )
    everything: list[tuple[float, float, bool]] = []
    for name in FEED_CORPORA:
        rows = measure(corpus_files(args.corpora, [name]), args.repeat)
        everything += rows
        _row(name, rows)
    _row("all", everything)


def _row(name: str, rows: list[tuple[float, float, bool]]) -> None:
    slow, fast = [r[0] for r in rows], [r[1] for r in rows]
    taken = [r for r in rows if r[2]]
    print(
        f"{name:<32} {len(rows):>5} {100 * len(taken) / max(len(rows), 1):>5.1f}%"
        f" {sum(slow):>12.3f} {sum(fast):>11.3f}"
        f" {1000 * statistics.median(slow):>9.2f} {1000 * statistics.median(fast):>11.2f}"
        f" {sum(r[0] for r in taken):>11.3f} {sum(r[1] for r in taken):>13.3f}"
    )


if __name__ == "__main__":
    main()
