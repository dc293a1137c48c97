"""Pure: the order in which the dedup owner decides the articles of a distributed replay.

The rule (docs/scaling.md): **articles of a replay run are decided in the order of the run's
files, and within a file in the order they arrived** — the order a single-process replay of the
same files decides them in.  Workers replay files in parallel, so a later file's articles may
arrive first: they are held until every earlier file's end-of-file marker was seen.

    order = ReplayOrder()
    ready = order.article(position, item)   # items to decide now, in order
    ready = order.file_done(run_id, index)  # a file ended: what it unblocks
    order.restore(run_id, next_file)        # after a failover (from the changelog)

Articles without a position (live feeds) never wait; their order relative to a replay running at
the same time depends on arrival, as it does in a single process.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Generic, TypeVar

from daemon.cluster.articlecodec import Position

T = TypeVar("T")


class _Run(Generic[T]):
    def __init__(self, next_file: int = 0) -> None:
        self.next_file = next_file  # every file below it has ended
        self.ended: set[int] = set()
        self.held: defaultdict[int, list[T]] = defaultdict(list)


class ReplayOrder(Generic[T]):
    """Holds replayed articles until their turn (see module)."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run[T]] = {}

    def next_file(self, run_id: str) -> int:
        return self._run(run_id).next_file

    def restore(self, run_id: str, next_file: int) -> None:
        """A run's progress as recorded before a failover (files below `next_file` ended)."""
        run = self._run(run_id)
        run.next_file = max(run.next_file, next_file)

    def article(self, position: Position | None, item: T) -> list[T]:
        """The items to decide now: this one, unless an earlier file is still running."""
        if position is None:
            return [item]
        run = self._run(position.run_id)
        if position.file_index <= run.next_file:
            return [item]
        run.held[position.file_index].append(item)
        return []

    def file_done(self, run_id: str, file_index: int) -> list[T]:
        """File `file_index` ended: the held items of every file now in turn, in order."""
        run = self._run(run_id)
        run.ended.add(file_index)
        ready: list[T] = []
        while run.next_file in run.ended:
            run.ended.discard(run.next_file)
            run.next_file += 1
            ready += run.held.pop(run.next_file, [])
        return ready

    @property
    def held(self) -> int:
        return sum(len(items) for run in self._runs.values() for items in run.held.values())

    def _run(self, run_id: str) -> _Run[T]:
        return self._runs.setdefault(run_id, _Run())
