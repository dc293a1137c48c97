"""The SSRF guard at connect time, and the httpx transport over a guarded connection pool.

`GuardedBackend` is the network backend every pool connects through: it resolves the host,
vets each address with the `AddressPolicy`, and connects to a vetted IP (no DNS-rebinding gap).
`GuardedTransport` presents a pool (newsd's `OriginPool` or httpcore's stock one) as an httpx
transport and as a plain `send_core` for the fetcher's fast path.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol

import httpcore
import httpx

from daemon.errors import BlockedAddress
from daemon.fetch.guard import AddressPolicy, parse_address
from daemon.fetch.transport.streams import AsyncioBackend

Resolve = Callable[[str, int], Awaitable[list[str]]]


class Pool(Protocol):
    """What a connection pool offers: newsd's `OriginPool` and httpcore's both do."""

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response: ...

    async def aclose(self) -> None: ...


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to now, in resolver order, without duplicates."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def first_connection(
    host: str,
    addresses: Iterable[str],
    connect: Callable[[str], Awaitable[httpcore.AsyncNetworkStream]],
    retry_on: tuple[type[Exception], ...] = (httpcore.ConnectError, httpcore.ConnectTimeout),
) -> httpcore.AsyncNetworkStream:
    """The first of `addresses` (already vetted) that `connect` reaches; the last error else."""
    error: Exception = httpcore.ConnectError(f"no address for {host}")
    for address in addresses:
        try:
            return await connect(address)
        except retry_on as exc:
            error = exc
    raise error


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, vets and then connects to an IP address.

    TLS still uses the URL's host name for SNI and certificate checks (httpcore passes it to
    `start_tls`), and the Host header is untouched.  Addresses the policy refuses are skipped;
    when none is left, `BlockedAddress` is raised.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolve: Resolve = system_resolve,
    ) -> None:
        self._policy = policy
        self._inner = inner or AsyncioBackend()
        self._resolve = resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.vetted(host, port, timeout)

        async def connect(address: str) -> httpcore.AsyncNetworkStream:
            return await self._inner.connect_tcp(
                address, port, timeout, local_address, socket_options
            )

        return await first_connection(host, addresses, connect)

    async def vetted(self, host: str, port: int, deadline: float | None) -> list[str]:
        """The addresses of `host` the policy allows; raises `BlockedAddress` when none is."""
        try:
            async with asyncio.timeout(deadline):
                addresses = await self._addresses(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host}") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"resolving {host}: {exc}") from exc
        allowed: list[str] = []
        refused: list[str] = []
        for text in addresses:
            address = parse_address(text)
            why = "unparseable" if address is None else self._policy.check(address)
            (refused if why else allowed).append(text if why is None else f"{text} ({why})")
        if not allowed:
            raise BlockedAddress(f"{host} resolves to {', '.join(refused) or 'nothing'}")
        return allowed

    async def _addresses(self, host: str, port: int) -> list[str]:
        # An IP literal is its own (only) address: no resolver round trip (a thread hop for
        # getaddrinfo); it is vetted below like any resolved address.  Zone ids still resolve.
        if "%" not in host and parse_address(host) is not None:
            return [host.strip("[]")]
        return await self._resolve(host, port)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(f"unix socket {path}")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CoreStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterator[bytes] | Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over a pool whose connections go through `GuardedBackend` (build it
    with `daemon.fetch.transport.build.transport_for`).

    `PoliteClient` sends through `send_core` (httpcore requests, no httpx models per request);
    `handle_async_request` serves anything that wants an httpx transport.  httpcore exceptions
    escape as they are and are translated by `PoliteClient` (with httpx's).
    """

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        response = await self._pool.handle_async_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_CoreStream(response.stream),
            extensions=response.extensions,
        )

    async def send_core(self, request: httpcore.Request) -> httpcore.Response:
        """Send an httpcore request straight to the pool (the fetcher's own fast path)."""
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        await self._pool.aclose()
