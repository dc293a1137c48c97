"""A real HTTP/1.1 server on 127.0.0.1 (or ::1) for tests, answering from a route table.

Claims about HTTP behaviour are tested against real sockets, not mocks.  Usage:

    with HttpServer() as server:
        server.route("/feed.xml", Reply(body=b"<rss/>", headers={"Content-Type": "text/xml"}))
        server.route("/flaky", Reply(status=503), Reply(status=200, body=b"ok"))  # in turn
        server.route("/slow", Reply(delay=2.0))
        server.route("/echo", lambda hit: Reply(body=hit.headers["user-agent"].encode()))
        url = server.url("/feed.xml")
        ...
        server.hits("/flaky")  # [Hit(...), Hit(...)] with server-side monotonic timestamps

A route answers with its replies in turn and repeats the last one; a reply may be a function of
the request (`Hit`).  Unknown paths answer 404.  `Reply` can delay the response, trickle a body
in chunks (chunked transfer encoding) or gzip it; without `gzip=True` the body is sent as given
(e.g. a pre-compressed bomb with your own Content-Encoding header).
`HttpServer("::1")` listens on IPv6; `HttpServer(tls=context)` serves HTTPS with a server-side
`ssl.SSLContext`.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One canned response."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds before the status line is sent
    chunk_size: int = 0  # > 0: send the body with chunked transfer encoding, this many bytes each
    chunk_delay: float = 0.0  # seconds between chunks
    gzip: bool = False  # compress `body` and send Content-Encoding: gzip
    content_length: bool = True  # send Content-Length (ignored when chunked)


@dataclass(frozen=True)
class Hit:
    """A request as the server saw it; times are `time.monotonic()` in the server thread.

    A hit is listed on arrival; `finished` stays 0.0 until its response has been written.
    """

    method: str
    path: str
    headers: Mapping[str, str]  # lower-cased names
    started: float
    finished: float = 0.0
    body: bytes = b""  # the request body (POST)


Responder = Reply | Callable[[Hit], Reply]


class HttpServer:
    """A threaded HTTP/1.1 server with a route table; start/stop it with `with`."""

    def __init__(self, host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.scheme = "https" if tls else "http"
        self._routes: dict[str, list[Responder]] = {}
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server = _make_server(host, self)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        """The absolute URL of `path` on this server, optionally under another host name."""
        name = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{self.scheme}://{name}:{self.port}{path}"

    def route(self, path: str, *replies: Responder) -> None:
        """Answer `path` (with or without its query) with `replies` in turn, then the last."""
        with self._lock:
            self._routes[path] = list(replies) or [Reply()]

    def hits(self, path: str | None = None) -> list[Hit]:
        """The requests received so far (for `path` only, when given), in arrival order."""
        with self._lock:
            return [h for h in self._hits if path is None or h.path.split("?")[0] == path]

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _reply_for(self, hit: Hit) -> Reply:
        with self._lock:
            queue = self._routes.get(hit.path) or self._routes.get(hit.path.split("?")[0])
            if queue is None:
                return Reply(status=404, body=b"not found")
            responder = queue.pop(0) if len(queue) > 1 else queue[0]
        return responder(hit) if callable(responder) else responder

    def _arrived(self, hit: Hit) -> int:
        with self._lock:
            self._hits.append(hit)
            return len(self._hits) - 1

    def _finished(self, index: int) -> None:
        with self._lock:
            hit = self._hits[index]
            self._hits[index] = Hit(
                hit.method, hit.path, hit.headers, hit.started, time.monotonic(), hit.body
            )


def _make_server(host: str, owner: HttpServer) -> ThreadingHTTPServer:
    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True
        block_on_close = False

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # clients that time out hang up on us: expected in these tests

    class Handler(_Handler):
        server_owner = owner

    return Server((host, 0), Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: HttpServer
    timeout = 10  # idle keep-alive connections end

    def do_GET(self) -> None:
        self._answer("GET", b"")

    def do_POST(self) -> None:
        self._answer("POST", self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _answer(self, method: str, body: bytes) -> None:
        hit = Hit(
            method=method,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            started=time.monotonic(),
            body=body,
        )
        index = self.server_owner._arrived(hit)
        try:
            self._send(self.server_owner._reply_for(hit))
        finally:
            self.server_owner._finished(index)

    def _send(self, reply: Reply) -> None:
        time.sleep(reply.delay)
        body = gzip.compress(reply.body) if reply.gzip else reply.body
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.gzip:
            self.send_header("Content-Encoding", "gzip")
        if reply.chunk_size > 0:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._send_chunks(body, reply.chunk_size, reply.chunk_delay)
            return
        if reply.content_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _send_chunks(self, body: bytes, size: int, delay: float) -> None:
        for start in range(0, len(body), size):
            piece = body[start : start + size]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
            time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests assert on `hits()` instead
