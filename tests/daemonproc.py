"""The real `newsd` process for operations tests: started in its own session (so a test can send
a signal to its whole process group, as a terminal's Ctrl-C does), its JSON log lines collected
as they arrive, its ops endpoint found from the `ops.listening` line.

    async with NewsdProcess("run", "--config", cfg) as daemon:
        await daemon.wait_event("daemon.started")
        status, body = await daemon.get("/readyz")
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.conftest import REPO


@dataclass
class Line:
    text: str
    at: float  # time.monotonic() when it arrived
    record: dict[str, Any] | None = field(default=None)


class NewsdProcess:
    def __init__(
        self, *args: str, env: dict[str, str] | None = None, python: list[str] | None = None
    ) -> None:
        self.args = args
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "NEWSD_LOG__FORMAT": "json",
            **(env or {}),
        }
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
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
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


def write_ops_config(
    path: Path, *, bootstrap: str | None, prefix: str, feed_url: str, **sections: dict[str, Any]
) -> Path:
    """A config for a daemon against `bootstrap` (None: the embedded broker) polling one feed."""
    lines = []
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
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    lines += ["[[feeds]]", 'id = "seeds"', f'url = "{feed_url}"', 'publisher = "Seed captures"']
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)
