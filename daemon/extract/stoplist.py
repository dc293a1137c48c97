"""justext's all-language stoplist, held once per process instead of twice.

trafilatura's justext fallback (part of its full pass) classifies paragraphs against the union
of all of justext's stoplists (154,484 words) when it is given no language, as here.  It keeps
that union as a tuple of lower-cased words (`trafilatura.external.JT_STOPLIST`), and justext's
`define_stoplist` (an `lru_cache`) keeps a lower-cased frozenset copy of it, made of new
strings: two copies, ~28 MB in the fork server and, inherited, in every extraction worker,
which the bench's peak RSS counts once per process.

`share()` builds the union once, as the frozenset `define_stoplist` would make, and has
`define_stoplist` return that set itself: the same words, so the same classification, in
half the memory.  Any other stoplist still goes through justext's own function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import justext.core
import trafilatura.external
from justext.utils import get_stoplist, get_stoplists

_shared: frozenset[str] | None = None


def union() -> frozenset[str]:
    """Every word of every justext stoplist, lower-cased (what `define_stoplist` makes of
    trafilatura's `JT_STOPLIST`)."""
    return frozenset(word.lower() for name in get_stoplists() for word in get_stoplist(name))


def share() -> frozenset[str]:
    """Install the one shared copy (idempotent); returns it."""
    global _shared
    if _shared is None:
        _shared = union()
        justext.core.define_stoplist = _defining(justext.core.define_stoplist, _shared)
        trafilatura.external.JT_STOPLIST = _shared  # type: ignore[assignment]
    return _shared


def _defining(
    original: Callable[[Iterable[str]], frozenset[str]], shared: frozenset[str]
) -> Callable[[Any], frozenset[str]]:
    def define_stoplist(stoplist: Any) -> frozenset[str]:
        """The shared set as it is (already lower-cased); any other through justext."""
        return shared if stoplist is shared else original(stoplist)

    return define_stoplist
