"""A TCP proxy on loopback in front of a test broker that can lose every request in flight.

The broker advertises the proxy's port, so every client connection (bootstrap and partition
leader alike) goes through it.  `cut()` closes every open connection at once and, until
`restore()`, accepts new ones but forwards nothing: requests sent meanwhile are lost, as on a
network partition, and time out on the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess

from daemon.sinks.embedded import broker_binary, free_port


class CuttableProxy:
    """127.0.0.1:`port` → 127.0.0.1:`upstream`."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.cut_active = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        self.cut_active = True
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    def restore(self) -> None:
        self.cut_active = False

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_active:  # swallow whatever comes, answer nothing
            self._writers.add(writer)
            with contextlib.suppress(ConnectionError):
                while await reader.read(65536):
                    pass
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.cut_active:
                    break
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            self._writers.discard(writer)


def start_broker_behind(proxy_port: int) -> tuple[subprocess.Popen[bytes], int]:
    """A Tansu broker listening on a free port and advertising `proxy_port`."""
    port = free_port()
    cmd = [str(broker_binary()), "broker", "--listener-url", f"tcp://127.0.0.1:{port}"]
    cmd += ["--advertised-listener-url", f"tcp://127.0.0.1:{proxy_port}"]
    cmd += ["--storage-engine", "memory://tansu/"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, port
