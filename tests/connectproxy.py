"""A forward proxy for tests: answers HTTP CONNECT on a loopback address, counts every request.

    with ConnectProxy("127.0.0.2") as proxy:
        proxy.url                 # "http://127.0.0.2:<port>"
        proxy.requests            # ["CONNECT 127.0.0.1:8080 HTTP/1.1", ...] in arrival order
        proxy.authorizations      # the Proxy-Authorization values received

Any other method is answered 405; CONNECT to a port nobody listens on, 502.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

from tests.tlsproxy import _pipe, close_loop


class ConnectProxy:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.requests: list[str] = []
        self.authorizations: list[str | None] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, self.host, 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        close_loop(self._loop, server)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        self.requests.append(head[0])
        fields = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
        self.authorizations.append(fields.get("Proxy-Authorization"))
        method, target, _ = head[0].split(" ", 2)
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        host, _, port = target.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            with contextlib.suppress(OSError):
                writer.close()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
