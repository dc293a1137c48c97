"""The event loop the daemon runs on: uvloop when it is installed, else asyncio's own.

uvloop (a dependency except on Windows) makes the HTTP hot path of the pollers cheaper; nothing
in the daemon depends on it, so an install without it runs on the standard loop.
`NEWSD_EVENT_LOOP=asyncio` forces the standard loop (to compare, or to rule uvloop out while
debugging).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory(name: str | None = None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the chosen loop (`uvloop`, `asyncio`, or None: uvloop when installed).

    None is returned for the standard loop, which is what `asyncio.Runner` expects for it.
    """
    choice = (name or os.environ.get("NEWSD_EVENT_LOOP") or "auto").lower()
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(factory: Callable[[], asyncio.AbstractEventLoop] | None) -> str:
    """`uvloop` or `asyncio`, for logs and benchmark tables."""
    return "asyncio" if factory is None else factory.__module__.split(".")[0]


def run(main: Coroutine[Any, Any, T], *, loop: str | None = None) -> T:
    """Run `main` to completion on the chosen loop (see `loop_factory`), like `asyncio.run`."""
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)
