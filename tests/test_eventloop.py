"""`daemon.eventloop`: uvloop when installed, the standard loop otherwise or when asked."""

from __future__ import annotations

import asyncio
import sys

import pytest

from daemon import eventloop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def test_asyncio_can_be_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSD_EVENT_LOOP=asyncio (or loop='asyncio') runs on the standard loop."""
    monkeypatch.setenv("NEWSD_EVENT_LOOP", "asyncio")
    assert eventloop.loop_factory() is None
    assert eventloop.run(_loop_module()) == "asyncio"


def test_without_uvloop_the_standard_loop_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """With uvloop not importable, `auto` falls back silently and `uvloop` fails loudly."""
    monkeypatch.setitem(sys.modules, "uvloop", None)
    monkeypatch.delenv("NEWSD_EVENT_LOOP", raising=False)
    assert eventloop.run(_loop_module()) == "asyncio"
    assert eventloop.loop_name(eventloop.loop_factory()) == "asyncio"
    with pytest.raises(ImportError):
        eventloop.loop_factory("uvloop")


def test_uvloop_is_used_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """With uvloop installed, the default (auto) loop is uvloop's."""
    pytest.importorskip("uvloop")
    monkeypatch.delenv("NEWSD_EVENT_LOOP", raising=False)
    assert eventloop.run(_loop_module()) == "uvloop"
    assert eventloop.loop_name(eventloop.loop_factory()) == "uvloop"
