"""The extraction workers' C heap: glibc malloc tuned so that a worker gives back what a large
page made it allocate.

Without it a worker grew from ~87 MB after its warm-up to 114-148 MB over 400 real pages
(of 180 KB on average, a few of 2 MB): lxml builds every tree in many small C allocations,
trafilatura copies the tree, and glibc kept the freed memory in a fragmented heap.  Both calls
are no-ops where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any

# glibc's mallopt() parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks of this size or more (a page's body, its decoded text) get their own mapping.
MMAP_THRESHOLD = 256 * 1024
# The heap's free top is returned to the system past this size.
TRIM_THRESHOLD = 1024 * 1024
# A document this large leaves enough freed memory inside the heap to be worth a trim (~1 ms).
TRIM_AFTER_BYTES = 256 * 1024


@cache
def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c"))


def fix_thresholds() -> bool:
    """Fixed mmap and trim thresholds: glibc's default raises both after the first large free,
    after which every large page stays in the heap.  False where there is no `mallopt`."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def release_after(document_bytes: int) -> bool:
    """Give the heap's free pages back to the system after a document of `document_bytes`,
    when it is large enough to have left many (`malloc_trim`); True when memory was released."""
    if document_bytes < TRIM_AFTER_BYTES:
        return False
    trim = getattr(_libc(), "malloc_trim", None)
    return bool(trim(0)) if trim is not None else False
