"""Liveness as a file: the running daemon writes `<state dir>/health.json` on every stats tick;
`newsd health` reads it back (the arq shape: health with counters, written on a timer).

The file says when it was written, by which process, and the counters so far; it is stale when
the daemon stopped writing (hung, or dead), which a container probe turns into a restart.
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
    state_dir: Path, *, started: float, counts: dict[str, int], now: float | None = None
) -> None:
    """Replace the health file atomically (write aside, then rename)."""
    path = state_dir / FILE_NAME
    data = {
        "pid": os.getpid(),
        "started_at": started,
        "updated_at": time.time() if now is None else now,
        "counts": counts,
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
    """Healthy when the file exists and was written less than `max_age` seconds ago."""
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
    return Verdict(True, f"ok: written {age:.0f} s ago", report)
