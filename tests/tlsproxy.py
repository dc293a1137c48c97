"""A TLS-terminating TCP proxy on 127.0.0.1 and a test broker that advertises it.

Kafka clients connect to whatever address the broker advertises in its metadata, so the broker
is started advertising the proxy's port: every connection, bootstrap and data, goes through TLS.

    with TlsKafka(server_context) as kafka:
        kafka.bootstrap_servers   # "127.0.0.1:<proxy port>", TLS only
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import threading
import time
from types import TracebackType

from daemon.sinks.embedded import broker_binary, free_port


class TlsProxy:
    """Accepts TLS on `port`, forwards the plaintext bytes to `target_port` (both loopback)."""

    def __init__(self, context: ssl.SSLContext, target_port: int, port: int) -> None:
        self.context = context
        self.target_port = target_port
        self.port = port
        self.handshakes = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port, ssl=self.context)
        )
        self._ready.set()
        self._loop.run_forever()
        close_loop(self._loop, self._server)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()


def _wait_accepting(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class TlsKafka:
    """A Tansu broker reachable only through a `TlsProxy` (it advertises the proxy's port)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.broker_port, self.port = free_port(), free_port()
        self.proxy = TlsProxy(context, self.broker_port, self.port)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> TlsKafka:
        listen = f"tcp://127.0.0.1:{self.broker_port}"
        advertise = f"tcp://127.0.0.1:{self.port}"
        urls = ["--listener-url", listen, "--advertised-listener-url", advertise]
        self._proc = subprocess.Popen(
            [str(broker_binary()), "broker", *urls, "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_accepting(self.broker_port)
        self.proxy.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.proxy.stop()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)


def close_loop(loop: asyncio.AbstractEventLoop, server: asyncio.Server) -> None:
    """After `run_forever` returned: close the server, end every connection task (their pipes
    close their sockets), then close the loop, so nothing is left for the garbage collector."""
    server.close()
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(server.wait_closed())
    loop.run_until_complete(asyncio.sleep(0))  # let the closed transports finish closing
    loop.close()
