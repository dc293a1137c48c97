"""Liveness as a file: the running daemon writes `<state dir>/health.json` on every stats tick;
`newsd health` reads it back (the arq shape: health with counters, written on a timer).

The file says when it was written, by which process, the counters so far and the publisher's
state.  `check` calls the daemon unhealthy when the file is stale (hung), when the process that
wrote it is gone (stopped or crashed: its pid is checked), or when its publisher is stalled
(events awaiting Kafka's acknowledgement with none acknowledged for longer than `max_age`).
It needs no HTTP endpoint; `/healthz` and `/readyz` (daemon/observability/server.py) are the
network equivalents.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "health.json"


def write(
    state_dir: Path,
    *,
    started: float,
    counts: dict[str, int],
    now: float | None = None,
    pending: int = 0,
    stalled_s: float = 0.0,
    pid: int | None = None,
) -> None:
    """Replace the health file atomically (write aside, then rename).

    `pending`: events awaiting acknowledgement; `stalled_s`: seconds without any acknowledgement
    while events were pending."""
    path = state_dir / FILE_NAME
    data = {
        "pid": os.getpid() if pid is None else pid,
        "started_at": started,
        "updated_at": time.time() if now is None else now,
        "counts": counts,
        "publisher": {"pending": pending, "stalled_s": round(stalled_s, 1)},
    }
    aside = path.with_suffix(".tmp")
    aside.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    aside.replace(path)


@dataclass(frozen=True, slots=True)
class Verdict:
    healthy: bool
    reason: str
    report: dict[str, Any]


def check(state_dir: Path, *, max_age: float, now: float | None = None) -> Verdict:
    """Healthy when the file was written less than `max_age` seconds ago by a process that is
    still alive, and its publisher has not been stalled for more than `max_age` seconds."""
    path = state_dir / FILE_NAME
    try:
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Verdict(False, f"no health file at {path}: is newsd run running?", {})
    except (OSError, ValueError) as exc:
        return Verdict(False, f"unreadable health file {path}: {exc}", {})
    age = (time.time() if now is None else now) - float(report.get("updated_at", 0))
    if age > max_age:
        return Verdict(False, f"stale: last written {age:.0f} s ago (max {max_age:.0f} s)", report)
    pid = int(report.get("pid", 0))
    if not _alive(pid):
        return Verdict(False, f"not running: the daemon (pid {pid}) has exited", report)
    stalled = float(report.get("publisher", {}).get("stalled_s", 0.0))
    if stalled > max_age:
        pending = report["publisher"].get("pending", 0)
        reason = f"publisher stalled: {pending} events unacknowledged for {stalled:.0f} s"
        return Verdict(False, reason, report)
    return Verdict(True, f"ok: written {age:.0f} s ago", report)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True
