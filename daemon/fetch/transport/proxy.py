"""Fetching through an egress proxy (`fetch.proxy`): an HTTP CONNECT tunnel per connection.

`TunnelBackend` is a network backend: where `GuardedBackend` would open a TCP connection to the
destination, it vets the destination the same way (the SSRF guard resolves the name and refuses
private addresses, so newsd needs DNS even behind a proxy), opens a connection to the proxy
(the proxy's own address is exempt from the guard: the operator configured it), and asks for
`CONNECT <vetted ip>:<port>`, so the proxy cannot be steered to another address by DNS.  The
pool then speaks HTTP over the tunnel, after a TLS handshake with the URL's host name (SNI and
certificate check) for https: TLS stays end to end.  Plain http is tunnelled too, so the proxy
must allow CONNECT to the ports of the feeds (80 and 443 in practice).

A proxy URL is `http://[user:password@]host:port`; credentials go in `Proxy-Authorization:
Basic`.  A refusal by the proxy (any non-2xx answer to CONNECT) is an `httpcore.ProxyError`,
counted as `proxy_error`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpcore

from daemon.fetch.guard import parse_address
from daemon.fetch.transport.guarded import first_connection

MAX_HEAD = 16 * 1024  # bytes of a CONNECT answer we read at most


@dataclass(frozen=True, slots=True)
class ProxyURL:
    """Where the proxy listens, and the credentials it wants (if any)."""

    host: str
    port: int
    authorization: bytes | None = None

    @classmethod
    def parse(cls, url: str) -> ProxyURL:
        """`http://[user:password@]host:port`; raises ValueError on anything else."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("must be http://[user:password@]host:port")
        auth = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = b"Basic " + base64.b64encode(pair.encode("utf-8"))
        return cls(parts.hostname, parts.port or 80, auth)


class TunnelBackend(httpcore.AsyncNetworkBackend):
    """Connections to vetted destinations, each through a CONNECT tunnel of one proxy."""

    def __init__(self, proxy: ProxyURL, guard: Any, inner: httpcore.AsyncNetworkBackend) -> None:
        self._proxy = proxy
        self._guard = guard  # a GuardedBackend: its `vetted()` is the SSRF check
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.vetted(host, port, timeout)

        async def tunnel(address: str) -> httpcore.AsyncNetworkStream:
            return await self._tunnel(address, port, timeout)

        retry_on = (httpcore.ConnectError, httpcore.ConnectTimeout, httpcore.ProxyError)
        return await first_connection(host, addresses, tunnel, retry_on)

    async def _tunnel(
        self, address: str, port: int, timeout: float | None
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(self._proxy.host, self._proxy.port, timeout)
        try:
            await stream.write(connect_request(address, port, self._proxy.authorization), timeout)
            await read_connect_answer(stream, timeout)
        except BaseException:
            await stream.aclose()
            raise
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError(f"unix socket {path} through a proxy")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def connect_request(address: str, port: int, authorization: bytes | None) -> bytes:
    """The CONNECT request for `address:port` (RFC 9110 §9.3.6), IPv6 in brackets."""
    literal = parse_address(address)
    target = f"[{address}]" if literal is not None and literal.version == 6 else address
    lines = [f"CONNECT {target}:{port} HTTP/1.1".encode(), f"Host: {target}:{port}".encode()]
    if authorization:
        lines.append(b"Proxy-Authorization: " + authorization)
    return b"\r\n".join([*lines, b"", b""])


async def read_connect_answer(stream: httpcore.AsyncNetworkStream, timeout: float | None) -> None:
    """Read the proxy's answer head; return on 2xx, raise `httpcore.ProxyError` otherwise."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await stream.read(MAX_HEAD, timeout)
        if not chunk:
            raise httpcore.ProxyError("the proxy closed the connection during CONNECT")
        head += chunk
        if len(head) > MAX_HEAD:
            raise httpcore.ProxyError("the proxy's CONNECT answer is too long")
    status_line = head.partition(b"\r\n")[0]
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit() or not 200 <= int(parts[1]) < 300:
        raise httpcore.ProxyError(f"the proxy refused CONNECT: {status_line.decode('latin-1')}")
    if not head.endswith(b"\r\n\r\n"):
        raise httpcore.ProxyError("the proxy sent data before the tunnel was used")
