"""A bounded reorder buffer: records leave in the order they were taken in.

    seq = await buffer.ticket()        # at intake: waits while `window` tickets are out
    ... fetch, extract (any order, any number of workers) ...
    buffer.put(seq, record)            # or buffer.put(seq, None): the record ended early
    record = await buffer.get()        # the next record in ticket order (ends are skipped)
    buffer.task_done()

The extraction pool finishes pages in whatever order its workers do; the dedup stage reads them
from here in intake order, so which copy of a story becomes the original never depends on
timing, and a replay of the same input decides the same way in the same order.  The price is
head-of-line waiting: a record taken in later waits for every earlier one (see
`bench/reorder_cost.py`).  With `ordered=False` records leave as they arrive (the old behaviour).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ReorderBuffer(Generic[T]):
    """Tickets in intake order; `get()` releases records in ticket order (see module)."""

    def __init__(self, window: int, *, ordered: bool = True) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self.ordered = ordered
        self._issued = 0  # tickets handed out
        self._released = 0  # tickets passed by get() (records and early ends)
        self._unfinished = 0  # records returned by get() and not yet task_done()
        self._parked: dict[int, T | None] = {}  # arrived, waiting for earlier tickets
        self._arrived: deque[T] = deque()  # unordered mode: in arrival order
        self._changed = asyncio.Event()  # set on every change; waiters re-check their condition

    def __len__(self) -> int:
        """Tickets out: taken in and not yet released."""
        return self._issued - self._released

    async def ticket(self) -> int:
        """The next sequence number; waits while `window` tickets are out."""
        await self._until(lambda: len(self) < self.window)
        seq = self._issued
        self._issued += 1
        return seq

    def put(self, seq: int, record: T | None) -> None:
        """Hand in the outcome of ticket `seq`: a record, or None when it ended early."""
        if self.ordered:
            self._parked[seq] = record
        else:
            self._released += 1
            if record is not None:
                self._arrived.append(record)
        self._changed.set()

    async def get(self) -> T:
        """The next record (in ticket order when ordered); waits until it has arrived."""
        while (record := self._next()) is None:
            self._changed.clear()
            await self._changed.wait()
        self._unfinished += 1
        self._changed.set()
        return record

    def task_done(self) -> None:
        """The record returned by `get()` was handled."""
        self._unfinished -= 1
        self._changed.set()

    async def join(self) -> None:
        """Wait until every ticket was released and every record handled."""
        await self._until(lambda: len(self) == 0 and not self._unfinished)

    def abandon(self) -> list[T]:
        """Shutdown: every record waiting here (its ticket's predecessors may never come)."""
        records = [r for r in self._parked.values() if r is not None] + list(self._arrived)
        self._released += len(self._parked)
        self._parked.clear()
        self._arrived.clear()
        self._changed.set()
        return records

    async def _until(self, condition: Callable[[], bool]) -> None:
        # Single-threaded asyncio: nothing can set the event between the check and the wait.
        while not condition():
            self._changed.clear()
            await self._changed.wait()

    def _next(self) -> T | None:
        if not self.ordered:
            return self._arrived.popleft() if self._arrived else None
        while self._released in self._parked:
            record = self._parked.pop(self._released)
            self._released += 1
            self._changed.set()  # a ticket came free
            if record is not None:
                return record
        return None
