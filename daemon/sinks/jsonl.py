"""A JSON-lines sink for dry runs, replays to files and local debugging.

Each line is `{"channel": ..., "key": ..., "headers": {...}, "event": {...}}`.  A write counts as
delivered once it reached the operating system (the file is flushed on every message).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import IO

import orjson

from daemon.errors import SinkError
from daemon.sinks.base import OutMessage


class JsonlSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    async def start(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
        except OSError as exc:
            raise SinkError("jsonl_open", str(exc)) from exc

    async def send(self, message: OutMessage) -> Awaitable[None]:
        line = orjson.dumps(
            {
                "channel": message.channel,
                "key": message.key.decode("utf-8", "replace"),
                "headers": {k: v.decode("utf-8", "replace") for k, v in message.headers},
                "event": orjson.Fragment(message.value),
            }
        )
        self._write(line + b"\n")
        return _done()

    def oversize(self, message: OutMessage) -> int:
        """A file takes messages of any size."""
        return 0

    def _write(self, data: bytes) -> None:
        if self._file is None:
            raise SinkError("jsonl_closed", "sink not started")
        try:
            self._file.write(data)
            self._file.flush()
        except OSError as exc:
            raise SinkError("jsonl_write", str(exc)) from exc

    async def check(self) -> None:
        """A file is always ready once opened."""

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future
