"""Progress of a replay run: a rich bar on a terminal, periodic log lines otherwise.

    progress = ReplayProgress(total=source.total_bytes, tty=sys.stderr.isatty(),
                              position=lambda: source.bytes_done)
    progress.advance("read")            # a page was read from the archive
    progress.advance("new")             # an event was published (new / duplicate / updated)
    progress.advance("skip.no-text")    # a record was dropped, by reason
    summary = progress.close(source.stats)

`total` and `position` are bytes of archive input, which is what the ETA is estimated from (the
number of pages in a WARC is unknown until it has been read); counts are shown beside it.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

log = structlog.get_logger(__name__)


class ReplayProgress:
    """Counts what a replay read, emitted and skipped, and shows it while it runs."""

    def __init__(
        self,
        *,
        total: int | None,
        tty: bool,
        position: Callable[[], int] | None = None,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        console: Console | None = None,
    ) -> None:
        self.total = total
        self.counts: Counter[str] = Counter()
        self._position = position or (lambda: 0)
        self._interval = interval
        self._clock = clock
        self._started = self._last_log = clock()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if tty:
            self._start_bar(console or Console(file=sys.stderr))

    def _start_bar(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("replay"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = self._bar.add_task("replay", total=self.total, counts="")
        self._bar.start()

    def advance(self, kind: str, n: int = 1) -> None:
        """Count `n` records of `kind`: `read`, `skip.<reason>`, or an emitted event type."""
        self.counts[kind] += n
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self._position(), counts=self._counts_text())
        elif self._clock() - self._last_log >= self._interval:
            self._last_log = self._clock()
            log.info("replay.progress", **self.snapshot())

    def _counts_text(self) -> str:
        emitted = sum(self.summary()["emitted"].values())
        return f"read {self.counts['read']} · emitted {emitted} · {self._rate():.1f}/s"

    def _rate(self) -> float:
        elapsed = max(self._clock() - self._started, 1e-9)
        return self.counts["read"] / elapsed

    def snapshot(self) -> dict[str, Any]:
        """Counts, rate and ETA right now (the fields of a `replay.progress` log line)."""
        done = self._position()
        elapsed = max(self._clock() - self._started, 1e-9)
        eta = None
        if self.total and done:
            eta = round(elapsed * (self.total - done) / done, 1)
        return {**self.summary(), "bytes_done": done, "bytes_total": self.total, "eta_s": eta}

    def summary(self, stats: Mapping[str, int] | None = None) -> dict[str, Any]:
        """{read, emitted: {type: n}, skipped: {reason: n}, elapsed_s, rate}, merging the
        source's `skip.*` counters from `stats` when given."""
        skipped: Counter[str] = Counter()
        emitted: Counter[str] = Counter()
        for kind, n in self.counts.items():
            if kind.startswith("skip."):
                skipped[kind.removeprefix("skip.")] += n
            elif kind != "read":
                emitted[kind] += n
        for kind, n in (stats or {}).items():
            if kind.startswith("skip.") and n:
                skipped[kind.removeprefix("skip.")] += n
        elapsed = self._clock() - self._started
        return {
            "read": self.counts["read"],
            "emitted": dict(sorted(emitted.items())),
            "skipped": dict(sorted(skipped.items())),
            "elapsed_s": round(elapsed, 3),
            "rate": round(self._rate(), 2),
        }

    def close(self, stats: Mapping[str, int] | None = None) -> dict[str, Any]:
        """Stop the bar, log `replay.done` and return the summary."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        summary = self.summary(stats)
        log.info("replay.done", **summary)
        return summary
