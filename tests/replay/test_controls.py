"""Operator controls: rate limiting, progress and summary, async iteration, bad inputs."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from structlog.testing import capture_logs

from daemon.errors import ReplayError
from daemon.replay.progress import ReplayProgress
from daemon.replay.rate import RateLimiter
from daemon.replay.source import ReplaySource


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_rate_limiter_spaces_events() -> None:
    """At 4 events/s, 9 back-to-back acquisitions take 2 s of (fake) time."""
    time = FakeTime()
    limiter = RateLimiter(4.0, clock=time.clock, sleep=time.sleep)
    for _ in range(9):
        await limiter.acquire()
    assert time.now == pytest.approx(2.0)
    assert time.slept == pytest.approx([0.25] * 8)


async def test_rate_limiter_allows_bursts_after_idle() -> None:
    """After an idle period, up to `burst` events go out at once, then the rate applies."""
    time = FakeTime()
    limiter = RateLimiter(2.0, burst=3, clock=time.clock, sleep=time.sleep)
    time.now = 100.0
    for _ in range(4):
        await limiter.acquire()
    assert time.slept == pytest.approx([0.5])


def test_rate_limiter_rejects_nonsense() -> None:
    """A zero rate is a configuration error, not an infinite wait."""
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(0)


def test_progress_summary_groups_counts() -> None:
    """The summary separates read, emitted per type and skipped per reason (source included)."""
    time = FakeTime()
    progress = ReplayProgress(total=1000, tty=False, position=lambda: 500, clock=time.clock)
    for kind in ("read", "read", "read", "new", "duplicate", "skip.no-text"):
        progress.advance(kind)
    time.now = 2.0
    summary = progress.close(Counter({"skip.request": 4, "emitted": 3, "skip.status": 0}))
    assert summary["read"] == 3
    assert summary["emitted"] == {"duplicate": 1, "new": 1}
    assert summary["skipped"] == {"no-text": 1, "request": 4}
    assert summary["rate"] == 1.5


def test_progress_logs_periodically_without_a_terminal() -> None:
    """Off a terminal, a `replay.progress` line with counts and ETA is logged per interval."""
    time = FakeTime()
    progress = ReplayProgress(
        total=1000, tty=False, position=lambda: 250, interval=10, clock=time.clock
    )
    with capture_logs() as logs:
        progress.advance("read")
        time.now = 10.0
        progress.advance("read")
        progress.advance("read")
    lines = [entry for entry in logs if entry["event"] == "replay.progress"]
    assert len(lines) == 1
    assert lines[0]["read"] == 2 and lines[0]["eta_s"] == 30.0


def test_progress_bar_on_a_terminal() -> None:
    """On a terminal a rich bar shows the counts; close() stops it and returns the summary."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    progress = ReplayProgress(total=100, tty=True, position=lambda: 50, console=console)
    progress.advance("read")
    progress.advance("new")
    summary = progress.close()
    assert "read 1" in out.getvalue() and summary["emitted"] == {"new": 1}


async def test_async_iteration_matches_sync(seeds: Path) -> None:
    """`aiter()` yields the same items as plain iteration, reading in a worker thread."""
    started = datetime(2026, 12, 1, tzinfo=UTC)
    sync = [item.page for item in ReplaySource([seeds], run_id="r1", read_at=started)]
    source = ReplaySource([seeds], run_id="r1", read_at=started)
    items = [item async for item in source.aiter()]
    assert [i.page for i in items] == sync and {i.run_id for i in items} == {"r1"}
    assert source.bytes_done == source.total_bytes > 0


def test_missing_path_fails_fast(tmp_path: Path) -> None:
    """A path that does not exist is a ReplayError before anything is read."""
    with pytest.raises(ReplayError, match="not_found"):
        ReplaySource([tmp_path / "nope"], run_id="t")


def test_unsupported_file_is_counted(tmp_path: Path, fixtures: Path) -> None:
    """A file given directly that is not an archive is counted; the archives still replay."""
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    source = ReplaySource([tmp_path / "notes.pdf", fixtures / "example.warc.gz"], run_id="t")
    assert len(list(source)) == 2 and source.stats["skip.unsupported_file"] == 1
