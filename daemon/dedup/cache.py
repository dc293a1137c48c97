"""A least-recently-used cache of shingle sequences of recent documents, capped in bytes.

Reposts of a wire story mostly arrive within hours of the original, so the exact check of an
LSH candidate usually needs the shingles of a recent document.  Keeping those in memory saves a
SQLite read per candidate (a round trip through the store thread); older documents are still
read from SQLite.  The cap is on accounted bytes: array bytes plus a fixed per-entry overhead
(dict entry, key string, array header), so the cache never holds more than `max_bytes`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Protocol, TypeVar

ENTRY_OVERHEAD = 320  # bytes: ordered-dict entry + 36-char key string + ndarray header


class _Measured(Protocol):
    @property
    def nbytes(self) -> int: ...


V = TypeVar("V", bound=_Measured)


class ShingleCache(Generic[V]):
    """event id → shingle sequence; evicts the least recently used past `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._items: OrderedDict[str, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> V | None:
        """The cached sequence (now the most recently used), or None."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        """Cache `value` under `key`, then evict old entries until within `max_bytes`."""
        self.discard(key)
        cost = value.nbytes + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return
        self._items[key] = value
        self.nbytes += cost
        while self.nbytes > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self.nbytes -= old.nbytes + ENTRY_OVERHEAD

    def discard(self, key: str) -> None:
        """Forget `key` if cached."""
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes + ENTRY_OVERHEAD
