"""Fetching behind an egress proxy and with a private CA, against real local servers: a CONNECT
proxy that counts its requests, an HTTP server and an HTTPS server whose certificate a test CA
signed."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from daemon.errors import BlockedAddress, ConfigError, FetchError
from daemon.fetch.client import PoliteClient
from daemon.fetch.transport.proxy import ProxyURL, connect_request
from daemon.sinks.embedded import free_port
from tests.connectproxy import ConnectProxy
from tests.fetch.support import fetch_settings
from tests.httpserver import HttpServer, Reply


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    """The proxy listens on 127.0.0.2: outside `allow_private_networks` (127.0.0.1/32)."""
    with ConnectProxy("127.0.0.2") as running:
        yield running


@pytest.fixture
def https_server(ca: trustme.CA) -> Iterator[HttpServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with HttpServer(tls=context) as server:
        server.route("/feed.xml", Reply(body=b"<rss/>", headers={"Content-Type": "text/xml"}))
        yield server


async def test_fetches_go_through_the_proxy_which_is_exempt_from_the_guard(
    proxy: ConnectProxy, server: HttpServer
) -> None:
    """With `fetch.proxy`, each new connection is one CONNECT to the vetted address; keep-alive
    reuses the tunnel; the proxy's own address (127.0.0.2, not allow-listed) is reachable."""
    server.route("/a", Reply(body=b"first"))
    server.route("/b", Reply(body=b"second"))
    async with PoliteClient(fetch_settings(proxy=proxy.url)) as fetcher:
        first = await fetcher.get(server.url("/a"), kind="page")
        second = await fetcher.get(server.url("/b"), kind="page")
    assert (first.body, second.body) == (b"first", b"second")
    assert proxy.requests == [f"CONNECT 127.0.0.1:{server.port} HTTP/1.1"]
    assert [h.path for h in server.hits()] == ["/a", "/b"]


async def test_a_proxied_request_to_a_private_address_is_still_refused(
    proxy: ConnectProxy, server: HttpServer
) -> None:
    """The SSRF guard vets the final destination before any CONNECT: a private address (IP
    literal or a name resolving to one), or a redirect to one, never reaches the proxy."""
    server.route("/hop", Reply(status=302, headers={"Location": "http://10.1.2.3/internal"}))
    settings = fetch_settings(proxy=proxy.url, allow_private_networks=[])
    async with PoliteClient(settings) as fetcher:
        for url in (server.url("/"), server.url("/", host="localhost")):
            with pytest.raises(BlockedAddress):
                await fetcher.get(url, kind="page")
    assert proxy.requests == []
    async with PoliteClient(fetch_settings(proxy=proxy.url)) as fetcher:
        with pytest.raises(BlockedAddress):
            await fetcher.get(server.url("/hop"), kind="page")
    assert len(proxy.requests) == 1  # the first hop only


async def test_https_through_the_proxy_trusts_the_configured_ca_bundle(
    tmp_path: Path, ca: trustme.CA, proxy: ConnectProxy, https_server: HttpServer
) -> None:
    """TLS runs end to end inside the tunnel: without `fetch.ca_bundle` the private CA is not
    trusted (tls_error); with it the feed is fetched, through the proxy both times."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    url = https_server.url("/feed.xml")
    async with PoliteClient(fetch_settings(proxy=proxy.url)) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.get(url, kind="feed")
    assert caught.value.reason == "tls_error"
    async with PoliteClient(fetch_settings(proxy=proxy.url, ca_bundle=bundle)) as fetcher:
        response = await fetcher.get(url, kind="feed")
    assert response.status == 200 and response.body == b"<rss/>"
    assert len(proxy.requests) == 2


async def test_ca_bundle_without_a_proxy_and_a_bad_bundle(
    tmp_path: Path, ca: trustme.CA, https_server: HttpServer
) -> None:
    """`fetch.ca_bundle` works without a proxy too; a file that is not PEM is a ConfigError
    naming the key when the client is built."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    async with PoliteClient(fetch_settings(ca_bundle=bundle)) as fetcher:
        assert (await fetcher.get(https_server.url("/feed.xml"), kind="feed")).status == 200
    (tmp_path / "bad.pem").write_text("nope")
    with pytest.raises(ConfigError) as caught:
        PoliteClient(fetch_settings(ca_bundle=tmp_path / "bad.pem"))
    assert caught.value.reason == "fetch.ca_bundle"


async def test_proxy_refusals_and_credentials(proxy: ConnectProxy) -> None:
    """Credentials in the proxy URL are sent as Proxy-Authorization; a proxy that cannot reach
    the destination (502) is a retryable `proxy_error`."""
    port = free_port()  # nobody listens there
    settings = fetch_settings(proxy=proxy.url.replace("http://", "http://me:p%40ss@"), retries=0)
    async with PoliteClient(settings) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.get(f"http://127.0.0.1:{port}/", kind="page")
    assert caught.value.reason == "proxy_error" and caught.value.retryable
    assert proxy.authorizations == ["Basic bWU6cEBzcw=="]  # me:p@ss


@pytest.mark.parametrize("url", ["https://proxy:3128", "socks5://p:1080", "http://:3128"], ids=str)
def test_only_http_proxy_urls_are_accepted(url: str) -> None:
    """The proxy itself is spoken to in plain HTTP (CONNECT); other forms are refused."""
    with pytest.raises(ValueError, match="http://"):
        ProxyURL.parse(url)


def test_connect_request_puts_ipv6_in_brackets() -> None:
    """RFC 9110 authority form: `[2001:db8::1]:443`."""
    assert connect_request("2001:db8::1", 443, None).startswith(
        b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n"
    )
