"""`OriginPool`: HTTP/1.1 keep-alive connections kept per origin, with O(1) work per request.

httpcore's `AsyncConnectionPool` rescans every connection (quadratically, while pruning idle
ones) on each request start and each response close; with a few hundred connections in flight
that scan was most of the CPU a feed poll cost.  This pool keeps idle connections in a dict by
origin plus one least-recently-used order for the keep-alive cap and the expiry sweep, and
leaves the HTTP/1.1 exchange itself to httpcore's `AsyncHTTP11Connection` (h11).

What it promises:
- Every new connection is opened through the network backend it was given (the SSRF guard),
  with the request's connect timeout, then TLS with the URL's host name (SNI and certificate
  check) for https.  A reused connection goes to the same origin only.
- At most `max_connections` connections are in use at once (more requests wait), at most
  `max_keepalive` are kept idle (the least recently used beyond that is closed), and none is
  reused after `keepalive_expiry` seconds idle (None: no limit) or after the server closed it.
- A connection is reused only when its response was read to the end and closed cleanly; after
  an error or a cancellation it is closed.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator

import httpcore

HTTP1 = ["http/1.1"]
Key = tuple[bytes, bytes, int]  # scheme, host, port (httpcore.Origin is not hashable)


def origin_key(origin: httpcore.Origin) -> Key:
    return (origin.scheme, origin.host, origin.port)


class OriginPool:
    """A lean HTTP/1.1 connection pool over any `httpcore.AsyncNetworkBackend`."""

    def __init__(
        self,
        backend: httpcore.AsyncNetworkBackend,
        *,
        ssl_context: ssl.SSLContext,
        max_connections: int = 100,
        max_keepalive: int = 100,
        keepalive_expiry: float | None = 30.0,
    ) -> None:
        self._backend = backend
        self._ssl_context = ssl_context
        self._ssl_context.set_alpn_protocols(HTTP1)
        self._in_use = asyncio.Semaphore(max_connections)
        self._max_keepalive = max_keepalive
        self._expiry = keepalive_expiry
        self._idle: dict[Key, list[httpcore.AsyncHTTP11Connection]] = {}
        self._lru: OrderedDict[httpcore.AsyncHTTP11Connection, Key] = OrderedDict()
        self._closed = False

    @property
    def idle_connections(self) -> int:
        """How many connections are kept open for reuse right now."""
        return len(self._lru)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send `request` on an idle connection to its origin, or on a new one."""
        await self._in_use.acquire()
        try:
            connection = await self._connection_for(request)
            try:
                response = await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                # The idle connection went away between the check and the send: one retry
                # on a fresh connection (httpcore's own pool does the same).
                connection = await self._connect(request)
                response = await connection.handle_async_request(request)
        except BaseException:
            self._in_use.release()
            raise
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_ReleasingStream(self, connection, origin_key(request.url.origin), response),
            extensions=response.extensions,
        )

    async def _connection_for(self, request: httpcore.Request) -> httpcore.AsyncHTTP11Connection:
        key = origin_key(request.url.origin)
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not idle:
                del self._idle[key]
            del self._lru[connection]
            if connection.is_available() and not connection.has_expired():
                return connection
            await connection.aclose()
        return await self._connect(request)

    async def _connect(self, request: httpcore.Request) -> httpcore.AsyncHTTP11Connection:
        origin = request.url.origin
        host = origin.host.decode("ascii")
        timeout = request.extensions.get("timeout", {}).get("connect")
        stream = await self._backend.connect_tcp(host, origin.port, timeout=timeout)
        try:
            if origin.scheme == b"https":
                sni = request.extensions.get("sni_hostname") or host
                stream = await stream.start_tls(
                    self._ssl_context, server_hostname=sni, timeout=timeout
                )
        except BaseException:
            await stream.aclose()
            raise
        return httpcore.AsyncHTTP11Connection(origin, stream, keepalive_expiry=self._expiry)

    async def _release(self, connection: httpcore.AsyncHTTP11Connection, key: Key) -> None:
        """Keep `connection` (to origin `key`) for reuse when idle and healthy, else close it."""
        self._in_use.release()
        if self._closed or not connection.is_idle() or connection.has_expired():
            await connection.aclose()
            return
        self._idle.setdefault(key, []).append(connection)
        self._lru[connection] = key
        await self._prune()

    async def _prune(self) -> None:
        """Close idle connections beyond the keep-alive cap, oldest first, and expired ones."""
        while self._lru:
            oldest, key = next(iter(self._lru.items()))
            if len(self._lru) <= self._max_keepalive and not oldest.has_expired():
                return
            del self._lru[oldest]
            connections = self._idle[key]
            connections.remove(oldest)
            if not connections:
                del self._idle[key]
            await oldest.aclose()

    async def aclose(self) -> None:
        """Close every idle connection (connections in use close with their response)."""
        self._closed = True
        idle = list(self._lru)
        self._lru.clear()
        self._idle.clear()
        for connection in idle:
            await connection.aclose()


class _ReleasingStream:
    """The response body; closing it hands the connection back to the pool."""

    def __init__(
        self,
        pool: OriginPool,
        connection: httpcore.AsyncHTTP11Connection,
        key: Key,
        response: httpcore.Response,
    ) -> None:
        self._pool = pool
        self._key = key
        self._connection = connection
        self._response = response
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        stream = self._response.stream
        assert isinstance(stream, AsyncIterable)  # an async connection gives async streams
        async for part in stream:
            yield part

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._response.aclose()
        finally:
            await self._pool._release(self._connection, self._key)
