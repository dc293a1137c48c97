"""Task functions for pool tests: importable by name, so worker processes can unpickle them."""

from __future__ import annotations

import os
import time


def sleep_then(seconds: float, value: int) -> int:
    """Sleep, then return `value` (a document that takes too long)."""
    time.sleep(seconds)
    return value


def worker_pid() -> int:
    """The worker's process id (to watch recycling)."""
    return os.getpid()


def crash() -> int:
    """Die like a segfaulting parser would."""
    os._exit(3)


def boom() -> int:
    """Raise like a parser choking on a document."""
    raise ValueError("unparseable")
