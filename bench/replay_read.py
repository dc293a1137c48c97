"""Replay read throughput: the WARC/ARC files of the shared corpora through ReplaySource.

PYTHONPATH=. python bench/replay_read.py --corpora ../shared/corpora [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from daemon.replay.source import ReplaySource

FOLDERS = (
    "solrwayback-test-warcs",
    "l3s-gn1-reconstructed-warc",
    "warcio-test-data",
    "jwarc-test-resources",
    "resiliparse-warc-test-data",
    "webarchive-discovery-test-warcs",
    "commoncrawl-whirlwind-sample",
)
HEADER = f"{'corpus':32} {'files':>5} {'MB':>6} {'pages':>6} {'feeds':>5} {'skips':>6}"


def _archives(folder: Path) -> list[Path]:
    names = (".warc", ".arc")
    return sorted(p for p in folder.rglob("*") if p.is_file() and any(n in p.name for n in names))


def _best(files: list[Path], repeat: int) -> tuple[float, Counter[str]]:
    best, stats = float("inf"), Counter[str]()
    for _ in range(repeat):
        source = ReplaySource(files, run_id="bench")
        start = time.perf_counter()
        for _item in source:
            pass
        best, stats = min(best, time.perf_counter() - start), source.stats
    return best, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpora", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{HEADER} {'s':>6} {'MB/s':>6}")
    for name in FOLDERS:
        files = _archives(args.corpora / name)
        if not files:
            continue
        seconds, stats = _best(files, args.repeat)
        mb = sum(f.stat().st_size for f in files) / 1e6
        skips = sum(n for k, n in stats.items() if k.startswith("skip."))
        print(
            f"{name:32} {len(files):5} {mb:6.2f} {stats['emitted']:6} {stats['read.feed']:5} "
            f"{skips:6} {seconds:6.3f} {mb / seconds:6.1f}"
        )


if __name__ == "__main__":
    main()
