"""The ops HTTP endpoint on `ops.address`, served from the daemon's own event loop.

    GET /metrics   Prometheus text format (prometheus_client's exposition)
    GET /healthz   200 while the event loop and every pipeline worker are alive, else 503
    GET /readyz    200 while the broker accepts our events and the state is writable, else 503

`/healthz` and `/readyz` answer JSON (`{"ok": bool, "reason": str}`).  HTTP/1.1 framing is h11's
(the protocol state machine httpx itself stands on); one request per connection keeps the server
trivially correct for probes and scrapers, which open a connection per request anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import h11
import structlog

from daemon.errors import ConfigError

log = structlog.get_logger(__name__)

_MAX_REQUEST = 16 * 1024
_READ_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    content_type: str


Route = Callable[[], Answer]


def json_answer(ok: bool, reason: str) -> Answer:
    body = json.dumps({"ok": ok, "reason": reason}).encode()
    return Answer(200 if ok else 503, body, "application/json")


class OpsServer:
    """Serves `routes` (path → answer) on `host:port`; port 0 picks a free one."""

    def __init__(self, host: str, port: int, routes: dict[str, Route]) -> None:
        self.host, self.port = host, port
        self.routes = routes
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            raise ConfigError(
                "ops.address", f"ops.address {self.address}: {exc.strerror or exc}"
            ) from exc
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("ops.listening", address=self.address, paths=sorted(self.routes))

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            request = await _read_request(conn, reader)
            if request is not None:
                writer.write(self._respond(conn, request))
                await writer.drain()
        except (h11.ProtocolError, TimeoutError, ConnectionError):
            pass  # a broken client is its own problem; the next scrape gets a fresh connection
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _respond(self, conn: h11.Connection, request: h11.Request) -> bytes:
        path = request.target.decode("ascii", "replace").split("?", 1)[0]
        route = self.routes.get(path)
        if request.method not in (b"GET", b"HEAD"):
            answer = Answer(405, b"method not allowed\n", "text/plain")
        elif route is None:
            answer = Answer(404, b"not found: try /metrics, /healthz, /readyz\n", "text/plain")
        else:
            answer = route()
        headers = [
            ("content-type", answer.content_type),
            ("content-length", str(len(answer.body))),
            ("connection", "close"),
        ]
        events: list[h11.Event] = [h11.Response(status_code=answer.status, headers=headers)]
        if request.method != b"HEAD":
            events.append(h11.Data(data=answer.body))
        events.append(h11.EndOfMessage())
        return b"".join(conn.send(event) or b"" for event in events)


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    async with asyncio.timeout(_READ_TIMEOUT):
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(4096)
                if len(conn.trailing_data[0]) + len(data) > _MAX_REQUEST:
                    return None
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                return event
            else:
                return None
