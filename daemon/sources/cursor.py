"""Cursor bookkeeping: which entries of each feed are out, and when its cursor may move.

The rule kept here: a feed's stored cursor (ETag, Last-Modified, body hash) never moves past an
entry that is not done.  "Done" is the pipeline's word (`FeedEntry.settle(entry, True)`): the
entry's event was acknowledged by the broker, or it was dropped on purpose.

    poll read a new body    → `begin()`
    poll emits entries      → `emitting()` clears the cursor: until they are done, the next
                              poll (or the next process, after a crash or a stop) fetches in
                              full and offers again whatever is not done
    poll saw its whole body → `polled()` names that body's cursor as the target
    entry done              → its key is remembered as seen; when nothing of the feed is out
                              any more, the target becomes the cursor
    entry not done          → the target is dropped: the cursor stays empty until a later poll
                              offers that entry again and sees it done

A poll cut short (a stop while it emits) never names a target, so the entries it did not emit
cannot be hidden by a cursor.  Pure bookkeeping: no I/O, no clock.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from daemon.sources.feedstate import FeedState, SeenKey


@dataclass(frozen=True, slots=True)
class Cursor:
    """What a conditional poll compares against: the validators and the body hash."""

    etag: str | None
    last_modified: str | None
    body_hash: str | None


@dataclass(slots=True)
class _Feed:
    out: set[str] = field(default_factory=set)  # item keys emitted and not yet settled
    target: Cursor | None = None  # the cursor to store once nothing is out
    undone: bool = False  # an entry settled not done since the current poll began


class CursorBook:
    """Per-feed entries out, seen keys to store, and the cursor each feed may advance to."""

    def __init__(self, states: dict[str, FeedState]) -> None:
        self.states = states
        self._feeds: defaultdict[str, _Feed] = defaultdict(_Feed)
        self._seen: defaultdict[str, list[SeenKey]] = defaultdict(list)
        self.dirty: set[str] = set()

    def out(self, feed_id: str) -> set[str]:
        """The item keys of `feed_id` emitted and not settled yet (read only)."""
        return self._feeds[feed_id].out

    def seen_pending(self, feed_id: str) -> list[SeenKey]:
        """Keys settled done but not written to the store yet."""
        return self._seen.get(feed_id, [])

    def take_seen(self) -> dict[str, list[SeenKey]]:
        """The seen keys to write now (and forget here)."""
        seen, self._seen = self._seen, defaultdict(list)
        return dict(seen)

    def forget(self, feed_id: str) -> None:
        """Drop the bookkeeping of a feed that nothing is out for (it moved away)."""
        self._feeds.pop(feed_id, None)
        self._seen.pop(feed_id, None)
        self.dirty.discard(feed_id)

    def begin(self, feed_id: str) -> None:
        """A poll of `feed_id` read a body and is about to offer its new entries."""
        self._feeds[feed_id].undone = False

    def emitting(self, feed_id: str, key: str) -> None:
        """`key` is about to be emitted: it is out, and the stored cursor is cleared."""
        self._feeds[feed_id].out.add(key)
        self.states[feed_id].clear_cursor()
        self.dirty.add(feed_id)

    def not_emitted(self, feed_id: str, key: str) -> None:
        """Emitting `key` failed or was cancelled: it is not out (a later poll offers it)."""
        self._feeds[feed_id].out.discard(key)

    def polled(self, feed_id: str, cursor: Cursor) -> None:
        """A poll offered every new entry of the body behind `cursor`: aim the cursor there,
        unless an entry was settled not done meanwhile (then a later poll must offer it)."""
        feed = self._feeds[feed_id]
        feed.target = None if feed.undone else cursor
        self._advance(feed_id)

    def settled(self, feed_id: str, key: str, updated: str | None, *, done: bool) -> None:
        """An entry left the pipeline; see the module docstring for what each outcome does."""
        feed = self._feeds[feed_id]
        feed.out.discard(key)
        if done:
            self._seen[feed_id].append((key, updated))
        else:
            feed.target, feed.undone = None, True
            self.states[feed_id].clear_cursor()
        self.dirty.add(feed_id)
        self._advance(feed_id)

    def _advance(self, feed_id: str) -> None:
        feed = self._feeds[feed_id]
        if feed.out or feed.target is None:
            return
        state, target = self.states[feed_id], feed.target
        state.etag, state.last_modified = target.etag, target.last_modified
        state.body_hash = target.body_hash
        feed.target = None
        self.dirty.add(feed_id)
