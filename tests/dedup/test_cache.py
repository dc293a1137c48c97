"""The shingle cache: least recently used out first, never above its byte cap."""

from __future__ import annotations

import numpy as np

from daemon.dedup.cache import ENTRY_OVERHEAD, ShingleCache


def seq(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.uint32)


def test_least_recently_used_is_evicted_first() -> None:
    """Reading an entry keeps it; the untouched oldest one goes when the cap is passed."""
    cache = ShingleCache(3 * (400 + ENTRY_OVERHEAD))
    for key in "abc":
        cache.put(key, seq(100))
    assert cache.get("a") is not None
    cache.put("d", seq(100))
    assert (cache.get("b"), len(cache)) == (None, 3)
    assert all(cache.get(k) is not None for k in "acd")


def test_bytes_stay_within_the_cap() -> None:
    """Accounted bytes never exceed max_bytes; an entry bigger than the cap is not kept."""
    cache = ShingleCache(10_000)
    for i in range(200):
        cache.put(str(i), seq(i * 7 % 900))
        assert cache.nbytes <= cache.max_bytes
    cache.put("huge", seq(5_000))
    assert cache.get("huge") is None


def test_replacing_and_discarding_keep_the_account() -> None:
    """Putting a key twice counts it once; discard gives its bytes back."""
    cache = ShingleCache(1 << 20)
    cache.put("a", seq(10))
    cache.put("a", seq(20))
    assert cache.nbytes == 80 + ENTRY_OVERHEAD
    cache.discard("a")
    assert (cache.nbytes, len(cache)) == (0, 0)
