"""OriginPool against real HTTP servers on 127.0.0.1: reuse, caps, expiry, errors, the guard."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
import pytest

from daemon.errors import BlockedAddress
from daemon.fetch.guard import AddressPolicy
from daemon.fetch.transport.build import transport_for
from daemon.fetch.transport.guarded import GuardedBackend
from daemon.fetch.transport.pool import OriginPool
from tests.fetch.support import fetch_settings
from tests.httpserver import HttpServer, Reply

LOOPBACK = AddressPolicy.from_cidrs(["127.0.0.1/32"])


class CountingBackend(GuardedBackend):
    """The SSRF guard, counting the connections it opened (after vetting)."""

    def __init__(self, policy: AddressPolicy = LOOPBACK) -> None:
        super().__init__(policy)
        self.connects = 0

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await super().connect_tcp(host, port, timeout, local_address, socket_options)
        self.connects += 1
        return stream


def make_pool(backend: httpcore.AsyncNetworkBackend, **limits: Any) -> OriginPool:
    return OriginPool(backend, ssl_context=httpx.create_ssl_context(), **limits)


async def get(pool: OriginPool, url: str, *, read: float = 2.0) -> tuple[int, bytes]:
    timeouts = {"connect": 2.0, "read": read, "write": 2.0, "pool": 2.0}
    request = httpcore.Request(
        "GET", url, headers=[(b"Host", b"x")], extensions={"timeout": timeouts}
    )
    response = await pool.handle_async_request(request)
    try:
        return response.status, await response.aread()
    finally:
        await response.aclose()


@pytest.fixture
def other_server() -> Iterable[HttpServer]:
    """A second server: another origin (port) on the same address."""
    with HttpServer() as running:
        yield running


async def test_one_connection_serves_sequential_requests_to_one_origin(server: HttpServer) -> None:
    """Keep-alive: three requests to one origin open (and vet) one connection."""
    server.route("/a", Reply(body=b"ok"))
    backend = CountingBackend()
    pool = make_pool(backend)
    results = [await get(pool, server.url("/a")) for _ in range(3)]
    await pool.aclose()
    assert results == [(200, b"ok")] * 3
    assert backend.connects == 1


async def test_each_origin_gets_its_own_vetted_connection(
    server: HttpServer, other_server: HttpServer
) -> None:
    """A connection is reused only for its own origin; a new origin opens (and vets) a new one."""
    server.route("/a", Reply(body=b"one"))
    other_server.route("/a", Reply(body=b"two"))
    backend = CountingBackend()
    pool = make_pool(backend)
    bodies = [(await get(pool, s.url("/a")))[1] for s in (server, other_server, server)]
    assert bodies == [b"one", b"two", b"one"]
    assert (backend.connects, pool.idle_connections) == (2, 2)
    await pool.aclose()
    assert pool.idle_connections == 0


async def test_keepalive_cap_closes_the_least_recently_used(
    server: HttpServer, other_server: HttpServer
) -> None:
    """With max_keepalive=1 only the latest origin's connection stays; the other reconnects."""
    server.route("/a", Reply(body=b"one"))
    other_server.route("/a", Reply(body=b"two"))
    backend = CountingBackend()
    pool = make_pool(backend, max_keepalive=1)
    for s in (server, other_server, server):
        await get(pool, s.url("/a"))
        assert pool.idle_connections == 1
    await pool.aclose()
    assert backend.connects == 3


async def test_expired_idle_connection_is_not_reused(server: HttpServer) -> None:
    """A connection idle longer than keepalive_expiry is closed and a new one is opened (an
    expiry of 0 s: any idle time at all is too long, so no test waits for a clock)."""
    server.route("/a", Reply(body=b"ok"))
    backend = CountingBackend()
    pool = make_pool(backend, keepalive_expiry=0.0)
    await get(pool, server.url("/a"))
    await get(pool, server.url("/a"))
    await pool.aclose()
    assert backend.connects == 2


async def test_connection_after_a_timeout_is_closed_and_the_slot_freed(server: HttpServer) -> None:
    """A read timeout closes that connection; with max_connections=1 the next request still runs
    (its slot was given back) on a new connection."""
    server.route("/slow", Reply(delay=0.5, body=b"late"))
    server.route("/a", Reply(body=b"ok"))
    backend = CountingBackend()
    pool = make_pool(backend, max_connections=1)
    with pytest.raises(httpcore.ReadTimeout):
        await get(pool, server.url("/slow"), read=0.1)
    assert pool.idle_connections == 0
    assert await get(pool, server.url("/a")) == (200, b"ok")
    await pool.aclose()
    assert backend.connects == 2


async def test_unread_body_closed_early_is_not_reused(server: HttpServer) -> None:
    """A response closed before its body was read leaves its connection closed, not pooled."""
    server.route("/big", Reply(body=b"x" * 200_000))
    backend = CountingBackend()
    pool = make_pool(backend)
    request = httpcore.Request("GET", server.url("/big"), headers=[(b"Host", b"x")])
    response = await pool.handle_async_request(request)
    await response.aclose()
    assert pool.idle_connections == 0
    await pool.aclose()


async def test_max_connections_makes_requests_wait(server: HttpServer) -> None:
    """max_connections=1: two concurrent requests are served one after the other."""
    server.route("/slow", Reply(delay=0.2, body=b"ok"))
    pool = make_pool(CountingBackend(), max_connections=1)
    await asyncio.gather(get(pool, server.url("/slow")), get(pool, server.url("/slow")))
    await pool.aclose()
    first, second = server.hits("/slow")
    assert second.started >= first.finished


async def test_new_connections_still_pass_the_guard(server: HttpServer) -> None:
    """Without an allow-list, a new connection to 127.0.0.1 is refused by the SSRF guard."""
    server.route("/a", Reply(body=b"ok"))
    pool = make_pool(CountingBackend(AddressPolicy()))
    with pytest.raises(BlockedAddress):
        await get(pool, server.url("/a"))
    await pool.aclose()
    assert server.hits() == []


async def refusing_resolver(host: str, port: int) -> list[str]:
    raise AssertionError(f"resolver asked for {host}")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("127.0.0.1", True), ("10.0.0.7", False), ("169.254.169.254", False), ("::1", False)],
)
async def test_ip_literals_skip_the_resolver_but_not_the_check(host: str, allowed: bool) -> None:
    """An IP host is vetted as it is, without a DNS look-up; refused ones still raise."""
    backend = GuardedBackend(LOOPBACK, resolve=refusing_resolver)
    if allowed:
        assert await backend.vetted(host, 80, 1.0) == [host]
    else:
        with pytest.raises(BlockedAddress):
            await backend.vetted(host, 80, 1.0)


async def test_names_still_go_to_the_resolver() -> None:
    """A host name is resolved at connect time and its answer vetted (no caching)."""
    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["10.0.0.7"] if len(asked) > 1 else ["127.0.0.1"]

    backend = GuardedBackend(LOOPBACK, resolve=resolver)
    assert await backend.vetted("feeds.example", 80, 1.0) == ["127.0.0.1"]
    with pytest.raises(BlockedAddress):
        await backend.vetted("feeds.example", 80, 1.0)
    assert asked == ["feeds.example", "feeds.example"]


async def test_connection_in_use_at_close_is_not_kept(server: HttpServer) -> None:
    """A response still open when the pool closes ends its connection instead of pooling it."""
    server.route("/a", Reply(body=b"ok"))
    pool = make_pool(CountingBackend())
    request = httpcore.Request("GET", server.url("/a"), headers=[(b"Host", b"x")])
    response = await pool.handle_async_request(request)
    await pool.aclose()
    assert await response.aread() == b"ok"
    await response.aclose()
    assert pool.idle_connections == 0


async def test_guarded_transport_serves_an_httpx_client(server: HttpServer) -> None:
    """GuardedTransport is still a working httpx transport (guard included)."""
    server.route("/a", Reply(body=b"ok"))
    transport = transport_for(fetch_settings(), LOOPBACK, backend=CountingBackend())
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(server.url("/a"))
    assert (response.status_code, response.content) == (200, b"ok")
