"""Helpers shared by the fetch tests (import as `tests.fetch.support`)."""

from __future__ import annotations

from typing import Any

from daemon.settings import FetchSettings, TimeoutSettings


def fetch_settings(**overrides: Any) -> FetchSettings:
    """FetchSettings that allow 127.0.0.1, with short timeouts and no spacing (unless given)."""
    values: dict[str, Any] = {
        "allow_private_networks": ["127.0.0.1/32"],
        "per_domain_min_interval": 0.0,
        "timeout": TimeoutSettings(connect=2.0, read=2.0, total=5.0),
    }
    values.update(overrides)
    return FetchSettings(**values)
