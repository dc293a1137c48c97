"""CPU-heavy extraction off the event loop: a pebble process pool behind an async call.

Promises:
- at most `workers` documents are processed at once, each in its own process;
- a document that runs longer than `timeout` seconds gets its worker killed and raises
  `ExtractError("timeout")`; the pool replaces the worker and goes on with the next document;
- a worker that dies (segfault, OOM kill) raises `ExtractError("worker_crashed")`;
- a worker is replaced after `max_tasks_per_worker` documents, so a slow leak in a parser cannot
  grow without bound over months;
- cancelling the awaiting task cancels (kills) the document's worker too.

Workers are forked from a fork server that has already imported the extraction code and warmed
the libraries' lazy state (daemon/extract/preload.py), so a recycled worker starts in
milliseconds, warm, and does not inherit the event loop's threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable
from typing import Any, TypeVar

import pebble

from daemon.errors import ExtractError

T = TypeVar("T")

_PRELOAD = ["daemon.extract.preload"]


def pool_size(workers: int) -> int:
    """`workers`, or one per core when it is 0."""
    return workers if workers > 0 else (os.cpu_count() or 1)


def _ready() -> bool:
    return True


class ExtractPool:
    """An async facade over `pebble.ProcessPool` with a hard per-task timeout."""

    def __init__(self, *, workers: int = 0, timeout: float = 20.0, max_tasks: int = 500) -> None:
        self.workers = pool_size(workers)
        self.timeout = timeout
        self.max_tasks = max_tasks
        self.timeouts = 0  # documents killed at the timeout (their worker was replaced)
        self.crashes = 0  # workers that died under a document (and were replaced)
        self._pool: pebble.ProcessPool | None = None

    def start(self) -> None:
        """Start the worker processes (idempotent)."""
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            self._pool = pebble.ProcessPool(
                max_workers=self.workers, max_tasks=self.max_tasks, context=context
            )

    async def warm(self) -> None:
        """Start the fork server and the workers now and wait until one answers.

        pebble starts lazily, at the first document; the fork server then spends seconds
        importing the extraction code before it ignores SIGINT, so a terminal's Ctrl-C (sent
        to the whole process group) in that window would kill it and break the pool.  Started
        here, before the daemon takes signals, every helper process already ignores SIGINT
        (pebble's workers do too) and the parent alone decides how to stop.
        """
        self.start()
        assert self._pool is not None
        try:
            await asyncio.wrap_future(self._pool.schedule(_ready))
        except Exception as exc:
            raise ExtractError("start", f"extraction workers did not start: {exc!r}") from exc

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `function(*args, **kwargs)` in a worker; every failure becomes `ExtractError`.

        `function` must be importable by name (it is pickled by reference).
        """
        self.start()
        assert self._pool is not None
        future = self._pool.schedule(function, args=args, kwargs=kwargs, timeout=self.timeout)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()  # type: ignore[no-untyped-call]
            raise
        except concurrent.futures.TimeoutError as exc:
            self.timeouts += 1
            raise ExtractError("timeout", f"{self.timeout:g}s") from exc
        except pebble.ProcessExpired as exc:
            self.crashes += 1
            raise ExtractError("worker_crashed", str(exc)) from exc
        except concurrent.futures.CancelledError as exc:
            raise ExtractError("cancelled") from exc
        except Exception as exc:  # the document broke the parser: one record, not the stage
            raise ExtractError("error", f"{type(exc).__name__}: {exc}") from exc

    @property
    def restarts(self) -> int:
        """Workers replaced because a document killed or outlived them (recycling excluded)."""
        return self.timeouts + self.crashes

    async def close(self) -> None:
        """Stop taking work, let running documents finish, then join the workers."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()  # type: ignore[no-untyped-call]
            await asyncio.to_thread(pool.join)

    def close_now(self) -> None:
        """Kill the workers without waiting (shutdown grace exhausted, or tests)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()  # type: ignore[no-untyped-call]
            pool.join()
