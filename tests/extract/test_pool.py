"""The extraction pool: hard timeouts, crash translation and worker recycling."""

from __future__ import annotations

import asyncio
import time

import pytest

from daemon.errors import ExtractError
from daemon.extract.pool import ExtractPool, pool_size
from tests.extract import tasks


async def test_slow_document_times_out_and_next_one_runs() -> None:
    """A task past the timeout fails with `timeout` within ~timeout+1 s; the next task succeeds."""
    pool = ExtractPool(workers=1, timeout=1.0, max_tasks=10)
    pool.start()
    try:
        await pool.warm()  # the worker is up: the clock measures the timeout, not the spawn
        started = time.monotonic()
        with pytest.raises(ExtractError) as caught:
            await pool.run(tasks.sleep_then, 30.0, 1)
        assert caught.value.reason == "timeout"
        assert time.monotonic() - started < 1.0 + 1.0  # timeout + 1 s
        assert await pool.run(tasks.sleep_then, 0.0, 7) == 7
    finally:
        pool.close_now()


async def test_concurrent_documents_are_not_stalled_by_a_slow_one() -> None:
    """While one worker is stuck on a slow task, the other keeps serving documents."""
    pool = ExtractPool(workers=2, timeout=2.0, max_tasks=10)
    pool.start()
    try:
        slow = asyncio.ensure_future(pool.run(tasks.sleep_then, 30.0, 0))
        fast = [await pool.run(tasks.sleep_then, 0.0, i) for i in range(3)]
        assert fast == [0, 1, 2]
        with pytest.raises(ExtractError, match="timeout"):
            await slow
    finally:
        pool.close_now()


async def test_workers_are_recycled_after_max_tasks() -> None:
    """With max_tasks=2, four sequential tasks on one worker run in two different processes."""
    pool = ExtractPool(workers=1, timeout=10.0, max_tasks=2)
    pool.start()
    try:
        pids = [await pool.run(tasks.worker_pid) for _ in range(4)]
    finally:
        pool.close_now()
    assert pids[0] == pids[1]
    assert pids[2] == pids[3]
    assert pids[0] != pids[2]


async def test_crash_and_error_are_translated(pool: ExtractPool) -> None:
    """A dying worker is `worker_crashed`, a raising parser is `error`; the pool still works."""
    with pytest.raises(ExtractError, match="worker_crashed"):
        await pool.run(tasks.crash)
    with pytest.raises(ExtractError, match="error"):
        await pool.run(tasks.boom)
    assert await pool.run(tasks.sleep_then, 0.0, 5) == 5


def test_zero_workers_means_one_per_core() -> None:
    """`workers=0` sizes the pool to the machine."""
    assert pool_size(0) >= 1
    assert pool_size(3) == 3
