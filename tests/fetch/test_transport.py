"""The transport built by `transport_for`, with newsd's pool and with httpcore's stock pool
(`fetch.pool`), against real local servers; and the TLS and write branches of the streams."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpcore
import pytest
import trustme

from daemon.errors import BlockedAddress
from daemon.fetch.client import PoliteClient
from daemon.fetch.transport.streams import AsyncioBackend
from tests.connectproxy import ConnectProxy
from tests.fetch.support import fetch_settings
from tests.httpserver import HttpServer, Reply

POOLS = ["newsd", "httpcore"]


@pytest.fixture
def https_server(ca: trustme.CA) -> Iterator[HttpServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with HttpServer(tls=context) as server:
        yield server


@pytest.mark.parametrize("pool", POOLS)
async def test_both_pools_fetch_reuse_and_guard(pool: str, server: HttpServer) -> None:
    """Either pool fetches through the guard, follows a redirect, serves a second request, and
    refuses a private address."""
    server.route("/a", Reply(status=301, headers={"Location": "/b"}))
    server.route("/b", Reply(body=b"ok"))
    async with PoliteClient(fetch_settings(pool=pool)) as http:
        first = await http.get(server.url("/a"), kind="page")
        second = await http.get(server.url("/b"), kind="page")
        with pytest.raises(BlockedAddress):
            await http.get("http://10.0.0.1/", kind="page")
    assert (first.body, second.body, first.final_url) == (b"ok", b"ok", server.url("/b"))
    ports = {hit.headers.get("host") for hit in server.hits()}
    assert ports == {f"127.0.0.1:{server.port}"} and len(server.hits()) == 3


@pytest.mark.parametrize("pool", POOLS)
async def test_both_pools_tunnel_https_through_the_proxy(
    pool: str, tmp_path: Path, ca: trustme.CA, https_server: HttpServer
) -> None:
    """`fetch.proxy` and `fetch.ca_bundle` work the same with either pool."""
    https_server.route("/f", Reply(body=b"<rss/>"))
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with ConnectProxy("127.0.0.2") as proxy:
        settings = fetch_settings(pool=pool, proxy=proxy.url, ca_bundle=bundle)
        async with PoliteClient(settings) as http:
            response = await http.get(https_server.url("/f", host="localhost"), kind="feed")
    assert response.body == b"<rss/>"
    assert proxy.requests == [f"CONNECT 127.0.0.1:{https_server.port} HTTP/1.1"]


async def test_stream_tls_upgrade_checks_the_certificate(
    ca: trustme.CA, https_server: HttpServer
) -> None:
    """`start_tls` upgrades in place with the server name (a request then round-trips over
    TLS); an untrusted certificate is a ConnectError caused by the ssl error."""
    https_server.route("/t", Reply(body=b"tls"))
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    backend = AsyncioBackend()
    plain = await backend.connect_tcp("127.0.0.1", https_server.port, timeout=2.0)
    stream = await plain.start_tls(trusted, server_hostname="localhost", timeout=2.0)
    assert stream.get_extra_info("ssl_object") is not None
    await stream.write(b"GET /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 2.0)
    answer = b""
    while part := await stream.read(65536, timeout=2.0):
        answer += part
    await stream.aclose()
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"tls")

    untrusted = await backend.connect_tcp("127.0.0.1", https_server.port, timeout=2.0)
    with pytest.raises(httpcore.ConnectError) as caught:
        await untrusted.start_tls(ssl.create_default_context(), server_hostname="localhost")
    assert isinstance(caught.value.__cause__, ssl.SSLError)


async def test_stream_write_to_a_closed_peer_is_a_write_error() -> None:
    """Writing after the server hung up raises WriteError (never hangs, never succeeds)."""
    closed = asyncio.Event()

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()
        closed.set()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
        await closed.wait()
        with pytest.raises(httpcore.WriteError):
            for _ in range(50):  # the reset reaches us after a write or two
                await stream.write(b"x" * 65536, timeout=2.0)
                await asyncio.sleep(0.01)
        await stream.aclose()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_a_closed_stream_has_closed_its_socket(
    tls: bool, ca: trustme.CA, server: HttpServer, https_server: HttpServer
) -> None:
    """When `aclose()` returns the socket is closed, over TCP and over TLS, so nothing is left
    for the garbage collector (or a stopping event loop) to close."""
    stream = await AsyncioBackend().connect_tcp(
        "127.0.0.1", (https_server if tls else server).port, timeout=2.0
    )
    if tls:
        trusted = ssl.create_default_context()
        ca.configure_trust(trusted)
        stream = await stream.start_tls(trusted, server_hostname="localhost", timeout=2.0)
    sock = stream.get_extra_info("socket")
    assert sock.fileno() >= 0
    await stream.aclose()
    assert sock.fileno() == -1
