"""PoliteClient against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import time
import zlib

import pytest

from daemon import __version__
from daemon.errors import BlockedAddress, FetchError
from daemon.fetch.client import PoliteClient
from daemon.fetch.contract import Hop, HttpResponse, RequestKind
from daemon.settings import TimeoutSettings
from tests.fetch.support import fetch_settings
from tests.httpserver import HttpServer, Reply


async def test_get_returns_status_headers_body_and_honest_user_agent(server: HttpServer) -> None:
    """A plain GET returns the body, lower-cased headers, and sends newsd's User-Agent."""
    server.route("/a", Reply(body=b"hello", headers={"Content-Type": "text/html; charset=utf-8"}))
    async with PoliteClient(fetch_settings()) as http:
        response = await http.get(server.url("/a"), kind="page")
    assert (response.status, response.body, response.content_type) == (200, b"hello", "text/html")
    assert response.final_url == server.url("/a") and response.redirects == ()
    agent = server.hits("/a")[0].headers["user-agent"]
    assert agent == f"newsd/{__version__} (+https://github.com/newsd/newsd)"
    assert response.raw_request_headers["user-agent"] == agent


async def test_error_statuses_are_returned_not_raised(server: HttpServer) -> None:
    """A 410 is a response for the caller to judge, not an exception."""
    server.route("/gone", Reply(status=410, body=b"gone"))
    async with PoliteClient(fetch_settings()) as http:
        response = await http.get(server.url("/gone"), kind="feed")
    assert response.status == 410


async def test_conditional_headers_are_sent(server: HttpServer) -> None:
    """Caller headers (If-None-Match) reach the server and a 304 comes back as a response."""
    server.route("/feed", Reply(status=304))
    async with PoliteClient(fetch_settings()) as http:
        response = await http.get(
            server.url("/feed"), kind="feed", headers={"If-None-Match": '"x"'}
        )
    assert response.status == 304
    assert server.hits("/feed")[0].headers["if-none-match"] == '"x"'


async def test_slow_server_times_out(server: HttpServer) -> None:
    """A server that answers after the read timeout gives FetchError('timeout'), retryable."""
    server.route("/slow", Reply(delay=1.5, body=b"late"))
    settings = fetch_settings(timeout=TimeoutSettings(connect=1.0, read=0.3, total=5.0))
    async with PoliteClient(settings) as http:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            await http.get(server.url("/slow"), kind="page")
    assert caught.value.reason == "timeout" and caught.value.retryable
    assert time.monotonic() - started < 1.2


async def test_trickling_body_hits_the_total_deadline(server: HttpServer) -> None:
    """Chunks arriving within the read timeout still cannot outlast the total deadline."""
    server.route("/trickle", Reply(body=b"x" * 40, chunk_size=1, chunk_delay=0.1))
    settings = fetch_settings(timeout=TimeoutSettings(connect=1.0, read=1.0, total=0.8))
    async with PoliteClient(settings) as http:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            await http.get(server.url("/trickle"), kind="page")
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 2.0


async def test_oversized_body_is_too_large(server: HttpServer) -> None:
    """A body over max_body_bytes is refused, with or without a Content-Length."""
    server.route("/big", Reply(body=b"x" * 50_000))
    server.route("/big-chunked", Reply(body=b"x" * 50_000, chunk_size=4096))
    async with PoliteClient(fetch_settings(max_body_bytes=10_000)) as http:
        for path in ("/big", "/big-chunked"):
            with pytest.raises(FetchError) as caught:
                await http.get(server.url(path), kind="page")
            assert caught.value.reason == "too_large" and not caught.value.retryable


async def test_gzip_body_is_decoded(server: HttpServer) -> None:
    """A gzip-encoded body arrives decoded."""
    server.route("/z", Reply(body=b"<html>" + b"a" * 5000, gzip=True))
    async with PoliteClient(fetch_settings()) as http:
        response = await http.get(server.url("/z"), kind="page")
    assert response.body == b"<html>" + b"a" * 5000


async def test_raw_deflate_body_is_decoded(server: HttpServer) -> None:
    """'deflate' sent without the zlib wrapper (a common server bug) is still decoded."""
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = raw.compress(b"hello deflate") + raw.flush()
    server.route("/d", Reply(body=body, headers={"Content-Encoding": "deflate"}))
    async with PoliteClient(fetch_settings()) as http:
        response = await http.get(server.url("/d"), kind="page")
    assert response.body == b"hello deflate"


async def test_gzip_bomb_is_refused_fast(server: HttpServer) -> None:
    """10 MB of zeros served as ~10 KB of gzip is refused as too_large, well under a second."""
    bomb = gzip.compress(b"\0" * 10_000_000, compresslevel=9)
    assert len(bomb) < 20_000
    server.route("/bomb", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    settings = fetch_settings(max_decompressed_bytes=1_000_000)
    async with PoliteClient(settings) as http:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            await http.get(server.url("/bomb"), kind="page")
    assert caught.value.reason == "too_large"
    assert time.monotonic() - started < 0.5


async def test_unknown_content_encoding_is_refused(server: HttpServer) -> None:
    """A Content-Encoding we cannot decode is a bad_encoding error, not garbage bytes."""
    server.route("/br", Reply(body=b"\x1b\x00", headers={"Content-Encoding": "br"}))
    async with PoliteClient(fetch_settings()) as http:
        with pytest.raises(FetchError) as caught:
            await http.get(server.url("/br"), kind="page")
    assert caught.value.reason == "bad_encoding"


async def test_redirect_chain_is_recorded_with_statuses(server: HttpServer) -> None:
    """Each hop is recorded as Hop(status, absolute location), and the final URL is reported."""
    server.route("/one", Reply(status=301, headers={"Location": "/two"}))
    server.route("/two", Reply(status=302, headers={"Location": server.url("/three")}))
    server.route("/three", Reply(status=308, headers={"Location": "four"}))
    server.route("/four", Reply(body=b"done"))
    async with PoliteClient(fetch_settings()) as http:
        response = await http.get(server.url("/one"), kind="feed")
    assert response.body == b"done" and response.final_url == server.url("/four")
    assert response.url == server.url("/one")
    assert response.redirects == (
        Hop(301, server.url("/two")),
        Hop(302, server.url("/three")),
        Hop(308, server.url("/four")),
    )


async def test_too_many_redirects(server: HttpServer) -> None:
    """A redirect loop stops after max_redirects with FetchError('too_many_redirects')."""
    server.route("/loop", Reply(status=302, headers={"Location": "/loop"}))
    async with PoliteClient(fetch_settings(max_redirects=3)) as http:
        with pytest.raises(FetchError) as caught:
            await http.get(server.url("/loop"), kind="page")
    assert caught.value.reason == "too_many_redirects"
    assert len(server.hits("/loop")) == 4


async def test_redirect_to_cloud_metadata_is_blocked(server: HttpServer) -> None:
    """A redirect to http://169.254.169.254/ is refused with BlockedAddress, never fetched."""
    server.route("/r", Reply(status=302, headers={"Location": "http://169.254.169.254/latest/"}))
    async with PoliteClient(fetch_settings()) as http:
        with pytest.raises(BlockedAddress):
            await http.get(server.url("/r"), kind="page")


async def test_redirect_to_other_scheme_is_bad_scheme(server: HttpServer) -> None:
    """A redirect to file:// or ftp:// is refused as bad_scheme."""
    server.route("/r", Reply(status=302, headers={"Location": "file:///etc/passwd"}))
    async with PoliteClient(fetch_settings()) as http:
        with pytest.raises(FetchError) as caught:
            await http.get(server.url("/r"), kind="page")
    assert caught.value.reason == "bad_scheme"


async def test_loopback_is_refused_by_default(server: HttpServer) -> None:
    """Without an allow-list, 127.0.0.1 and a name resolving to loopback are both refused."""
    server.route("/a", Reply(body=b"secret"))
    async with PoliteClient(fetch_settings(allow_private_networks=[])) as http:
        for url in (server.url("/a"), server.url("/a", host="localhost")):
            with pytest.raises(BlockedAddress):
                await http.get(url, kind="page")
    assert server.hits() == []


async def test_localhost_allowed_when_loopback_is_allow_listed(server: HttpServer) -> None:
    """`localhost` is reached once 127.0.0.1/32 and ::1/128 are allow-listed."""
    server.route("/a", Reply(body=b"ok"))
    settings = fetch_settings(allow_private_networks=["127.0.0.1/32", "::1/128"])
    async with PoliteClient(settings) as http:
        response = await http.get(server.url("/a", host="localhost"), kind="page")
    assert response.body == b"ok"


async def test_check_happens_at_connect_time_on_resolved_address(server: HttpServer) -> None:
    """A public-looking name that resolves to a refused address is blocked when connecting."""
    server.route("/a", Reply(body=b"ok"))

    async def rebinding(host: str, port: int) -> list[str]:
        return ["10.0.0.7"] if host == "news.example.com" else ["127.0.0.1"]

    async with PoliteClient(fetch_settings(), resolve=rebinding) as http:
        with pytest.raises(BlockedAddress) as caught:
            await http.get(f"http://news.example.com:{server.port}/a", kind="page")
        ok = await http.get(f"http://other.example.org:{server.port}/a", kind="page")
    assert "10.0.0.7" in str(caught.value)
    assert ok.body == b"ok"
    assert server.hits("/a")[0].headers["host"] == f"other.example.org:{server.port}"


async def test_connection_refused_is_connect_error() -> None:
    """Nothing listening: FetchError('connect_error'), retryable."""
    with HttpServer() as gone:
        url = gone.url("/a")
    async with PoliteClient(fetch_settings()) as http:
        with pytest.raises(FetchError) as caught:
            await http.get(url, kind="page")
    assert caught.value.reason == "connect_error" and caught.value.retryable


async def test_on_response_sees_every_hop(server: HttpServer) -> None:
    """The on_response hook gets each response received, redirects included, with its kind."""
    server.route("/r", Reply(status=301, headers={"Location": "/a"}))
    server.route("/a", Reply(body=b"ok"))
    seen: list[tuple[int, RequestKind]] = []

    async def hook(response: HttpResponse, kind: RequestKind) -> None:
        seen.append((response.status, kind))
        raise RuntimeError("archive full")  # must not fail the fetch

    async with PoliteClient(fetch_settings(), on_response=hook) as http:
        response = await http.get(server.url("/r"), kind="robots")
    assert response.status == 200
    assert seen == [(301, "robots"), (200, "robots")]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a", "bad_scheme"),
        ("http://", "bad_url"),
        ("http://[::1/", "bad_url"),
    ],
)
async def test_malformed_urls_are_refused_before_any_request(url: str, reason: str) -> None:
    """Bad schemes and malformed URLs raise FetchError with their reason, not httpx errors."""
    async with PoliteClient(fetch_settings()) as http:
        with pytest.raises(FetchError) as caught:
            await http.get(url, kind="page")
    assert caught.value.reason == reason and not caught.value.retryable
