"""The real daemon as a child process, for end-to-end tests.

`DaemonProcess`: `newsd run` with a config and a state dir, for tests of crashes, stops and bad
input.  Logs go to a file (a pipe nobody reads would block a chatty daemon); `logs()` parses them.

    config = write_config(tmp_path, kafka_settings, feed_url, poll={"min_interval": 0.5})
    async with DaemonProcess(config, tmp_path / "state") as daemon:
        await daemon.wait_for_log("feed.polled", count=2)
        daemon.kill()

`NewsdProcess`: any `newsd` command, for operations tests; started in its own session (so a test
can signal its whole process group, as a terminal's Ctrl-C does), its JSON log lines collected as
they arrive (with their arrival time), its ops endpoint found from the `ops.listening` line.

    async with NewsdProcess("run", "--config", cfg) as daemon:
        await daemon.wait_event("daemon.started")
        status, body = await daemon.get("/readyz")

`article_page(n)` is an HTML article whose text shares no word 5-gram with another number's,
so deduplication keeps every page apart.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

import httpx

from daemon.settings import Settings
from tests.conftest import REPO

HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
_WORDS = [
    "harbour",
    "council",
    "river",
    "budget",
    "school",
    "market",
    "winter",
    "railway",
    "museum",
    "festival",
    "bridge",
    "farmers",
    "election",
    "hospital",
    "station",
    "library",
    "factory",
    "village",
    "mayor",
    "court",
    "storm",
    "tunnel",
    "airport",
    "engineers",
    "teachers",
    "orchestra",
    "harvest",
    "ferry",
    "parliament",
    "treaty",
]


def article_text(number: int, paragraphs: int = 6) -> list[str]:
    """Paragraphs of made-up prose, different for every `number`."""
    rng = random.Random(number)
    return [
        " ".join(rng.choice(_WORDS) for _ in range(40)).capitalize() + "."
        for _ in range(paragraphs)
    ]


def article_page(number: int, paragraphs: int = 6) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in article_text(number, paragraphs))
    return (
        f"<html><head><title>Story {number}</title></head><body><article>"
        f"<h1>Story {number}</h1>{body}</article></body></html>"
    ).encode()


def rss(items: list[tuple[str, str]], *, extra: str = "") -> bytes:
    """An RSS 2.0 feed of (guid, link) items; `extra` is added inside every item."""
    parts = [
        f"<item><title>{escape(guid)}</title><link>{escape(link)}</link>"
        f'<guid isPermaLink="false">{escape(guid)}</guid>{extra}</item>'
        for guid, link in items
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Test feed</title><link>http://127.0.0.1/</link><description>t</description>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


def write_config(
    tmp_path: Path, settings: Settings, feed_url: str, **sections: dict[str, Any]
) -> Path:
    """A config file for the test broker and `feed_url`; `sections` add or override keys."""
    topics = settings.kafka.topics
    base: dict[str, dict[str, Any]] = {
        "kafka": {
            "bootstrap_servers": settings.kafka.bootstrap_servers,
            "enable_idempotence": False,
            "linger_ms": 0,
        },
        "kafka.topics": {"prefix": topics.prefix, "partitions": 3},
        "fetch": {
            "allow_private_networks": ["127.0.0.1/32"],
            "per_domain_min_interval": 0,
            "per_domain_concurrency": 16,
            "respect_robots": False,
        },
        # Slow test pages hang rather than time out (a timeout would end them as errors).
        "fetch.timeout": {"read": 180.0, "total": 180.0},
        "extract": {"workers": 1},
    }
    for name, values in sections.items():
        base.setdefault(name.replace("__", "."), {}).update(values)
    return _write_toml(tmp_path / "newsd.toml", base, {"id": "test", "url": feed_url})


def write_ops_config(
    path: Path, *, bootstrap: str | None, prefix: str, feed_url: str, **sections: dict[str, Any]
) -> Path:
    """A config for a daemon against `bootstrap` (None: the embedded broker) polling one feed."""
    kafka = {"enable_idempotence": False, "linger_ms": 0, **sections.pop("kafka", {})}
    if bootstrap:
        kafka["bootstrap_servers"] = bootstrap
    tables: dict[str, dict[str, Any]] = {
        "kafka": kafka,
        "kafka.topics": {"prefix": prefix, "partitions": 3},
        "fetch": {"allow_private_networks": ["127.0.0.1/32"], "per_domain_min_interval": 0},
        "extract": {"workers": 1},
        **sections,
    }
    feed = {"id": "seeds", "url": feed_url, "publisher": "Seed captures"}
    return _write_toml(path, tables, feed)


def _write_toml(path: Path, tables: dict[str, dict[str, Any]], feed: dict[str, str]) -> Path:
    """Tables of scalars and lists (JSON values are valid TOML), then one `[[feeds]]` entry."""
    lines = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    lines += ["[[feeds]]", *(f"{key} = {json.dumps(value)}" for key, value in feed.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a daemon child: this checkout first on the path, JSON logs."""
    return {**os.environ, "PYTHONPATH": str(REPO), "NEWSD_LOG__FORMAT": "json", **extra}


class DaemonProcess:
    """`python -m daemon run` with a config and a state dir, its logs in `<state>.log`."""

    def __init__(self, config: Path, state: Path, *, log_name: str = "daemon") -> None:
        self.config = config
        self.state = state
        self.log_path = state.parent / f"{log_name}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.started = 0.0

    async def __aenter__(self) -> DaemonProcess:
        env = child_env()
        with self.log_path.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "daemon",
                "run",
                "--config",
                str(self.config),
                "--state",
                str(self.state),
                cwd=REPO,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        self.started = time.monotonic()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await kill(self.proc)

    def logs(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.logs() if e.get("event") == name]

    async def wait_for_log(self, name: str, *, count: int = 1, timeout: float = 60.0) -> None:
        await self.wait_until(lambda: len(self.events(name)) >= count, timeout=timeout)

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 60.0) -> None:
        """Wait until `condition()` holds, while the daemon keeps running."""
        async with asyncio.timeout(timeout):
            while not condition():
                assert self.proc is not None and self.proc.returncode is None, self.tail()
                await asyncio.sleep(0.1)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    async def wait(self, timeout: float) -> int:
        """The exit code, within `timeout` seconds."""
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def run_once(config: Path, state: Path) -> list[dict[str, Any]]:
    """`newsd run --once`; asserts exit code 0 and returns its JSON log lines."""
    env = child_env()
    argv = [sys.executable, "-m", "daemon", "run", "--once"]
    result = subprocess.run(
        [*argv, "--config", str(config), "--state", str(state)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def summary(logs: list[dict[str, Any]]) -> dict[str, Any]:
    """The `daemon.summary` line's counters."""
    return next(e for e in logs if e["event"] == "daemon.summary")


@dataclass
class Line:
    text: str
    at: float  # time.monotonic() when it arrived
    record: dict[str, Any] | None = field(default=None)


class NewsdProcess:
    """Any `newsd` command in its own session, its stderr lines collected as they arrive."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, python: list[str] | None = None
    ) -> None:
        self.args = args
        self.env = child_env(**(env or {}))
        self.python = python or ["-m", "daemon"]
        self.lines: list[Line] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> NewsdProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.python,
            *self.args,
            cwd=REPO,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await kill(self.proc)
        if self._reader is not None:
            await self._reader

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            text = raw.decode("utf-8", "replace").rstrip("\n")
            try:
                record = json.loads(text)
            except ValueError:
                record = None
            self.lines.append(
                Line(text, time.monotonic(), record if isinstance(record, dict) else None)
            )

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        records = [line.record for line in self.lines if line.record is not None]
        return [r for r in records if name is None or r.get("event") == name]

    def stderr(self) -> str:
        return "\n".join(line.text for line in self.lines)

    async def wait_event(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                found = self.events(name)
                if found:
                    return found[0]
                if self.proc is not None and self.proc.returncode is not None:
                    raise AssertionError(f"newsd exited before {name}:\n{self.stderr()[-3000:]}")
                await asyncio.sleep(0.05)

    async def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._reader is not None:
            await self._reader
        return code

    def signal_group(self, sig: signal.Signals) -> None:
        """Send `sig` to the process group, as a terminal does on Ctrl-C."""
        os.killpg(os.getpgid(self.pid), sig)

    async def ops_url(self, path: str) -> str:
        address = (await self.wait_event("ops.listening"))["address"]
        return f"http://{address}{path}"

    async def get(self, path: str) -> tuple[int, str]:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(await self.ops_url(path))
        return response.status_code, response.text


async def kill(proc: asyncio.subprocess.Process | None) -> None:
    """SIGKILL `proc` if it still runs, and reap it."""
    if proc is not None and proc.returncode is None:
        proc.kill()
        await proc.wait()
