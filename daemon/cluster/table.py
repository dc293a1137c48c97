"""Which feeds this instance owns: the feeds topic as a table, per partition.  Pure: no I/O.

The feeds topic is compacted and keyed by feed id, so the latest value of each key is the feed's
spec (or a tombstone).  An instance reads only the partitions the consumer group assigned to it,
each from the beginning (a Kafka Streams GlobalKTable restricted to owned partitions), and polls
exactly the feeds of those partitions:

    owned feeds   = the latest non-tombstone record of every key in an assigned partition
    a rebalance   = `moves(before, after)`: feeds gained (restore their cursor before the first
                    poll), feeds lost (stop polling them before the revocation completes), kept
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from daemon.cluster.codec import FeedRecord
from daemon.sources.feedcontrol import FeedSet


@dataclass(frozen=True, slots=True)
class Moves:
    """How a change of assignment moves feeds: what to restore, what to release."""

    gained: frozenset[str]
    lost: frozenset[str]
    kept: frozenset[str]


def moves(before: Iterable[str], after: Iterable[str]) -> Moves:
    """The feeds gained, lost and kept between two owned sets."""
    old, new = frozenset(before), frozenset(after)
    return Moves(gained=new - old, lost=old - new, kept=old & new)


class FeedTable:
    """The latest record of every feed, per partition of the feeds topic."""

    def __init__(self) -> None:
        self._partitions: dict[int, dict[str, FeedRecord]] = {}
        self._unretire: set[str] = set()  # `feeds resume` requests not handed over yet

    @property
    def partitions(self) -> frozenset[int]:
        """The partitions held (assigned and loaded)."""
        return frozenset(self._partitions)

    def hold(self, partitions: Iterable[int]) -> None:
        """Start holding `partitions` empty (they are read again from the beginning)."""
        for partition in partitions:
            self._partitions[partition] = {}

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget `partitions` (revoked)."""
        for partition in partitions:
            self._partitions.pop(partition, None)

    def update(self, partition: int, feed_id: str, record: FeedRecord | None) -> bool:
        """Apply one record (None: tombstone); True when the owned feed set changed.
        Records of partitions not held are ignored (a fetch that raced a revocation)."""
        feeds = self._partitions.get(partition)
        if feeds is None:
            return False
        if record is None:
            return feeds.pop(feed_id, None) is not None
        if record.unretire and not record.paused:
            self._unretire.add(feed_id)
        if feeds.get(feed_id) == record:
            return False
        feeds[feed_id] = record
        return True

    def feed_ids(self) -> frozenset[str]:
        return frozenset(f for feeds in self._partitions.values() for f in feeds)

    def feeds_in(self, partitions: Iterable[int]) -> frozenset[str]:
        """The feed ids held in `partitions`."""
        return frozenset(f for p in partitions for f in self._partitions.get(p, {}))

    def unretired(self) -> None:
        """The un-retire requests were handed over: forget them (each counts once)."""
        self._unretire.clear()

    def records(self) -> list[FeedRecord]:
        """Every owned record, by partition then feed id (a stable order)."""
        found: list[FeedRecord] = []
        for partition in sorted(self._partitions):
            feeds = self._partitions[partition]
            found += [feeds[f] for f in sorted(feeds)]
        return found

    def feed_set(self) -> FeedSet:
        """The owned feeds as the poller takes them (`Poller.apply`)."""
        records = self.records()
        return FeedSet(
            tuple(r.spec for r in records),
            paused=frozenset(r.spec.feed_id for r in records if r.paused),
            unretire=frozenset(r.spec.feed_id for r in records if r.spec.feed_id in self._unretire),
        )
