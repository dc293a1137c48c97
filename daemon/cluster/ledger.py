"""Pure: which offset of the articles topic the dedup owner may commit.

    ledger.taken(offset)            # a record was handed to the pipeline
    ledger.settled(offset, done)    # it left the pipeline (done: acknowledged or skipped)
    ledger.position()               # the offset to commit: everything below it is done

Records leave the pipeline out of order (a skip settles at once, an event only once the broker
acknowledged it), so the committed position is the lowest offset still outstanding.  A record
settled *not* done stays outstanding: the position never passes it, and `failed` tells the
owner to rewind there (it is redelivered, with everything after it).
"""

from __future__ import annotations


class OffsetLedger:
    """Outstanding offsets of one partition (see module)."""

    def __init__(self) -> None:
        self._next: int | None = None  # one past the highest offset taken
        self._open: set[int] = set()
        self.failed: int | None = None  # lowest offset settled not done
        self.committed = -1  # the last position committed (kept by the owner)

    def taken(self, offset: int) -> None:
        self._open.add(offset)
        self._next = offset + 1 if self._next is None else max(self._next, offset + 1)

    def settled(self, offset: int, done: bool) -> None:
        if not done:
            self.failed = offset if self.failed is None else min(self.failed, offset)
            return
        self._open.discard(offset)

    def position(self) -> int | None:
        """The offset to commit: the lowest outstanding one, else one past the last taken;
        None before anything was taken."""
        return min(self._open) if self._open else self._next

    @property
    def outstanding(self) -> int:
        return len(self._open)
