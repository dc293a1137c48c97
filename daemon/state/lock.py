"""One newsd process per state directory: an exclusive `flock` on `<state dir>/newsd.lock`.

The holder writes its pid into the file, so a second `newsd run` (or a `replay` on the same
state) refuses with `StateLocked` naming that pid.  The kernel releases the lock when the holder
exits, however it exits (a crash or SIGKILL leaves no stale lock behind); the file itself stays.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from daemon.errors import ConfigError, StateLocked

FILE_NAME = "newsd.lock"


@contextlib.contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """Hold the state directory's lock for the duration of the block."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError("state.dir", f"state.dir {state_dir} is not a directory") from None
    except OSError as exc:
        raise ConfigError("state.dir", f"state.dir {state_dir}: {exc.strerror}") from None
    fd = os.open(state_dir / FILE_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, state_dir)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, state_dir: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        raise StateLocked(
            "state_locked",
            f"state directory {state_dir} is in use by another newsd process (pid {holder})",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
