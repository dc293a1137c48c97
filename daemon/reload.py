"""What a SIGHUP reload may change in a running daemon, decided from two `Settings`.

    RUNTIME   applied at once: the feed list, log.level, log.stats_interval,
              ops.per_feed_metrics
    anything else differing: logged as `needs_restart`, kept at its running value

Pure: `changes(old, new)` compares the settings as dotted key paths and applies nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from daemon.settings import Settings

RUNTIME = frozenset({"feeds", "log.level", "log.stats_interval", "ops.per_feed_metrics"})


@dataclass(frozen=True, slots=True)
class Changes:
    applied: tuple[str, ...]  # key paths that changed and take effect now
    needs_restart: tuple[str, ...]  # key paths that changed but only count after a restart


def changes(old: Settings, new: Settings) -> Changes:
    """The key paths whose value differs, split by whether they can change at runtime."""
    before, after = _flat(old.model_dump(mode="json")), _flat(new.model_dump(mode="json"))
    differing = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return Changes(
        applied=tuple(k for k in differing if k in RUNTIME),
        needs_restart=tuple(k for k in differing if k not in RUNTIME),
    )


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= _flat(value, f"{path}.")
        else:
            flat[path] = value  # lists (the feeds) compare as a whole
    return flat
