"""Requests and responses built at the httpcore level look as httpx built and presented them."""

from __future__ import annotations

import httpx

from daemon.fetch.client import PoliteClient
from daemon.fetch.transport.wire import decode_headers, request_headers
from tests.fetch.support import fetch_settings
from tests.httpserver import HttpServer, Reply

FIXED = [(b"Accept", b"*/*"), (b"User-Agent", b"newsd")]


def test_host_comes_first_with_a_non_default_port_and_idna() -> None:
    """Host is the URL's netloc: IDNA-encoded, with the port only when it is not the default."""
    assert request_headers(httpx.URL("http://a.example:8080/x"), FIXED, None)[0] == (
        b"Host",
        b"a.example:8080",
    )
    assert request_headers(httpx.URL("https://bücher.example/"), FIXED, None)[0] == (
        b"Host",
        b"xn--bcher-kva.example",
    )


def test_caller_headers_replace_fixed_ones_case_insensitively() -> None:
    """A caller's `accept` replaces the fixed Accept; other fixed fields stay, in order."""
    sent = request_headers(httpx.URL("http://a.example/"), FIXED, {"accept": "text/xml"})
    assert sent == [(b"Host", b"a.example"), (b"User-Agent", b"newsd"), (b"accept", b"text/xml")]


def test_received_headers_are_lower_cased_and_repeats_joined() -> None:
    """Names lower-cased, repeated fields joined by ', ', UTF-8 values decoded as UTF-8."""
    raw = [(b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"ETag", '"é"'.encode())]
    assert decode_headers(raw) == {"set-cookie": "a=1, b=2", "etag": '"é"'}


async def test_server_sees_httpx_style_request_headers(server: HttpServer) -> None:
    """One Accept (the caller's wins), gzip/deflate, keep-alive, our User-Agent, and Host."""
    server.route("/a", Reply(body=b"ok"))
    async with PoliteClient(fetch_settings()) as http:
        response = await http.get(server.url("/a"), kind="feed", headers={"Accept": "text/xml"})
    seen = server.hits("/a")[0].headers
    assert seen["accept"] == "text/xml"
    assert seen["host"] == f"127.0.0.1:{server.port}"
    assert (seen["accept-encoding"], seen["connection"]) == ("gzip, deflate", "keep-alive")
    assert response.raw_request_headers["accept"] == "text/xml"


async def test_latin1_etag_goes_back_unchanged(server: HttpServer) -> None:
    """A validator with a Latin-1 byte is returned decoded and sent back as the same byte."""
    etag = '"v\xe9-1"'
    server.route("/feed", Reply(headers={"ETag": etag}, body=b"x"), Reply(status=304))
    async with PoliteClient(fetch_settings()) as http:
        first = await http.get(server.url("/feed"), kind="feed")
        again = await http.get(
            server.url("/feed"), kind="feed", headers={"If-None-Match": first.headers["etag"]}
        )
    assert first.headers["etag"] == etag and again.status == 304
    assert server.hits("/feed")[1].headers["if-none-match"] == etag


async def test_any_httpx_transport_can_stand_in() -> None:
    """`transport=httpx.MockTransport(...)` answers the fetcher (unit tests of callers)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"X-Path": request.url.path}, content=b"mocked")

    settings = fetch_settings(allow_private_networks=[])
    async with PoliteClient(settings, transport=httpx.MockTransport(handler)) as http:
        response = await http.get("https://news.example/feed?x=1", kind="feed")
    assert (response.status, response.body, response.headers["x-path"]) == (200, b"mocked", "/feed")
