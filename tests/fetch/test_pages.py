"""The PageFetcher stage and robots.txt, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daemon.errors import BlockedAddress, FetchError
from daemon.fetch.client import PoliteClient
from daemon.fetch.pages import PageFetcher, page_kind
from daemon.fetch.robots import Robots, origin_of
from daemon.records import FeedEntry, Origin
from daemon.retry import Backoff
from daemon.settings import TimeoutSettings
from tests.fetch.support import fetch_settings
from tests.httpserver import HttpServer, Reply

HTML = {"Content-Type": "text/html; charset=utf-8"}
ROBOTS = b"User-agent: *\nDisallow: /private/\n\nUser-agent: newsd\nDisallow: /no-newsd/\n"


@pytest.fixture
async def http() -> AsyncIterator[PoliteClient]:
    async with PoliteClient(fetch_settings()) as client:
        yield client


def entry(url: str) -> FeedEntry:
    return FeedEntry(origin=Origin("feed", "test"), url=url)


def fetcher(http: PoliteClient, **overrides: Any) -> PageFetcher:
    settings = fetch_settings(**overrides)
    return PageFetcher(
        settings,
        http,
        backoff=Backoff(retries=settings.retries, base=0.01, cap=1.0),
        rng=random.Random(1),
    )


async def test_html_page_is_fetched(server: HttpServer, http: PoliteClient) -> None:
    """A 200 text/html page comes back with its body and no failure."""
    server.route("/robots.txt", Reply(status=404))
    server.route("/a", Reply(body=b"<html><p>story</p></html>", headers=HTML))
    page = await fetcher(http)(entry(server.url("/a")))
    assert page.failure is None and not page.is_text_capture
    assert (page.status, page.content_type, page.body) == (
        200,
        "text/html; charset=utf-8",  # as served, charset included
        b"<html><p>story</p></html>",
    )


async def test_text_plain_page_is_a_text_capture(server: HttpServer, http: PoliteClient) -> None:
    """A text/plain page is kept as a plain-text capture, not refused as not_html."""
    server.route("/robots.txt", Reply(status=404))
    server.route(
        "/a.txt", Reply(body=b"Title\n\nBody line.", headers={"Content-Type": "text/plain"})
    )
    page = await fetcher(http)(entry(server.url("/a.txt")))
    assert page.failure is None and page.is_text_capture
    assert page.body == b"Title\n\nBody line."


async def test_other_content_type_is_not_html(server: HttpServer, http: PoliteClient) -> None:
    """A PDF is returned as failure='not_html' without its body."""
    server.route("/robots.txt", Reply(status=404))
    server.route("/a.pdf", Reply(body=b"%PDF-1.7", headers={"Content-Type": "application/pdf"}))
    page = await fetcher(http)(entry(server.url("/a.pdf")))
    assert page.failure == "not_html" and page.body == b""


@pytest.mark.parametrize("status", [401, 403, 429])
async def test_refusals_are_blocked(server: HttpServer, http: PoliteClient, status: int) -> None:
    """401, 403 and 429 give failure='blocked' with the status, and are not retried."""
    server.route("/robots.txt", Reply(status=404))
    server.route("/a", Reply(status=status, headers=HTML))
    page = await fetcher(http)(entry(server.url("/a")))
    assert (page.failure, page.status) == ("blocked", status)
    assert len(server.hits("/a")) == 1


async def test_robots_disallow_is_blocked(server: HttpServer, http: PoliteClient) -> None:
    """A path robots.txt disallows for newsd is never requested, and the page is 'blocked'."""
    server.route("/robots.txt", Reply(body=ROBOTS, headers={"Content-Type": "text/plain"}))
    server.route("/no-newsd/a", Reply(body=b"<html></html>", headers=HTML))
    server.route("/ok", Reply(body=b"<html></html>", headers=HTML))
    stage = fetcher(http)
    page = await stage(entry(server.url("/no-newsd/a")))
    allowed = await stage(entry(server.url("/ok")))
    assert page.failure == "blocked" and server.hits("/no-newsd/a") == []
    assert allowed.failure is None
    assert len(server.hits("/robots.txt")) == 1  # cached per origin


async def test_robots_ignored_when_not_respected(server: HttpServer, http: PoliteClient) -> None:
    """With respect_robots=false the page is fetched and robots.txt is never asked for."""
    server.route("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /\n"))
    server.route("/a", Reply(body=b"<html></html>", headers=HTML))
    page = await fetcher(http, respect_robots=False)(entry(server.url("/a")))
    assert page.failure is None and server.hits("/robots.txt") == []


ROBOTS_OUTCOMES = {
    "4xx unavailable: allow all": (Reply(status=404), True),
    "410 unavailable: allow all": (Reply(status=410), True),
    "5xx unreachable: disallow all": (Reply(status=503), False),
    "429 unreachable: disallow all": (Reply(status=429), False),
    "timeout unreachable: disallow all": (Reply(delay=1.0), False),
    "2xx parsed": (Reply(body=b"User-agent: *\nDisallow: /a\n"), False),
    "2xx empty": (Reply(body=b""), True),
}


@pytest.mark.parametrize(("reply", "allowed"), ROBOTS_OUTCOMES.values(), ids=ROBOTS_OUTCOMES.keys())
async def test_robots_status_handling(server: HttpServer, reply: Reply, allowed: bool) -> None:
    """RFC 9309 §2.3.1.3/§2.3.1.4: 4xx allows everything, 5xx/429/timeouts disallow everything."""
    server.route("/robots.txt", reply)
    settings = fetch_settings(timeout=TimeoutSettings(connect=1.0, read=0.3, total=1.0))
    async with PoliteClient(settings) as client:
        robots = Robots(client, settings)
        assert await robots.allowed(server.url("/a")) is allowed


async def test_unreachable_robots_is_asked_again_soon(
    server: HttpServer, http: PoliteClient
) -> None:
    """A 5xx robots.txt is cached only for unreachable_ttl, then fetched again."""
    server.route("/robots.txt", Reply(status=500), Reply(status=404))
    now = [0.0]
    robots = Robots(http, fetch_settings(), unreachable_ttl=60.0, clock=lambda: now[0])
    assert not await robots.allowed(server.url("/a"))
    now[0] = 61.0
    assert await robots.allowed(server.url("/a"))
    assert len(server.hits("/robots.txt")) == 2


async def test_robots_cache_is_bounded(server: HttpServer, http: PoliteClient) -> None:
    """The per-origin cache keeps at most max_origins entries (least recently used go first)."""
    server.route("/robots.txt", Reply(status=404))
    robots = Robots(http, fetch_settings(), max_origins=1)
    await robots.allowed(server.url("/a"))
    await robots.allowed(server.url("/a", host="localhost"))
    await robots.allowed(server.url("/b"))
    assert len(server.hits("/robots.txt")) == 3


def test_origin_of() -> None:
    """Origins drop paths, user info and default ports, and lower-case the host."""
    assert origin_of("HTTPS://User@News.Example.com:443/a?b") == "https://news.example.com"
    assert origin_of("http://[::1]:8080/x") == "http://[::1]:8080"


async def test_503_is_retried_then_succeeds(server: HttpServer, http: PoliteClient) -> None:
    """A 503 is retried (fetch.retries) and the next success is returned."""
    server.route("/robots.txt", Reply(status=404))
    server.route("/a", Reply(status=503), Reply(body=b"<html>ok</html>", headers=HTML))
    page = await fetcher(http, retries=2)(entry(server.url("/a")))
    assert page.failure is None and page.body == b"<html>ok</html>"
    assert [h.path for h in server.hits("/a")] == ["/a", "/a"]


async def test_persistent_5xx_is_raised_after_retries(
    server: HttpServer, http: PoliteClient
) -> None:
    """A 500 on every attempt raises FetchError('server_error') after 1 + retries requests."""
    server.route("/robots.txt", Reply(status=404))
    server.route("/a", Reply(status=500))
    with pytest.raises(FetchError) as caught:
        await fetcher(http, retries=2)(entry(server.url("/a")))
    assert (caught.value.reason, caught.value.status) == ("server_error", 500)
    assert len(server.hits("/a")) == 3


@pytest.mark.parametrize(
    ("status", "reason"), [(404, "not_found"), (410, "gone"), (400, "http_error")]
)
async def test_permanent_errors_are_raised(
    server: HttpServer, http: PoliteClient, status: int, reason: str
) -> None:
    """404/410/other 4xx raise a non-retryable FetchError at once."""
    server.route("/robots.txt", Reply(status=404))
    server.route("/a", Reply(status=status))
    with pytest.raises(FetchError) as caught:
        await fetcher(http)(entry(server.url("/a")))
    assert (caught.value.reason, caught.value.retryable) == (reason, False)
    assert len(server.hits("/a")) == 1


@pytest.mark.parametrize("status", [404, 410, 500])
async def test_a_missing_page_with_feed_text_is_a_page_without_body(
    server: HttpServer, http: PoliteClient, status: int
) -> None:
    """When the entry carries its own text, a page that cannot be fetched comes back without
    a body (the extractor then uses the feed's content) instead of raising."""
    server.route("/robots.txt", Reply(status=404))
    server.route("/a", Reply(status=status))
    with_text = FeedEntry(
        origin=Origin("feed", "test"), url=server.url("/a"), summary="<p>The story.</p>"
    )
    page = await fetcher(http, retries=0)(with_text)
    assert (page.failure, page.status, page.body) == ("empty", status, b"")


async def test_timeout_becomes_a_timeout_page(server: HttpServer) -> None:
    """A page that keeps timing out is returned as failure='timeout' after its retries."""
    server.route("/robots.txt", Reply(status=404))
    server.route("/slow", Reply(delay=0.6))
    settings = fetch_settings(timeout=TimeoutSettings(connect=1.0, read=0.2, total=1.0))
    async with PoliteClient(settings) as client:
        page = await fetcher(client, retries=1)(entry(server.url("/slow")))
    assert page.failure == "timeout"
    assert len(server.hits("/slow")) == 2


async def test_too_large_becomes_a_too_large_page(server: HttpServer) -> None:
    """A body over the cap is returned as failure='too_large', not retried."""
    server.route("/robots.txt", Reply(status=404))
    server.route("/big", Reply(body=b"x" * 20_000, headers=HTML))
    async with PoliteClient(fetch_settings(max_body_bytes=10_000)) as client:
        page = await fetcher(client)(entry(server.url("/big")))
    assert page.failure == "too_large"
    assert len(server.hits("/big")) == 1


async def test_blocked_address_is_raised(server: HttpServer) -> None:
    """An entry pointing at a refused address raises BlockedAddress (robots.txt included)."""
    async with PoliteClient(fetch_settings(allow_private_networks=[])) as client:
        with pytest.raises(BlockedAddress):
            await fetcher(client)(entry(server.url("/a")))
    assert server.hits() == []


PAGE_KINDS = {
    "html": ("text/html", b"", "html"),
    "xhtml": ("application/xhtml+xml", b"", "html"),
    "plain text": ("text/plain", b"", "text"),
    "json": ("application/json", b"{}", "other"),
    "unlabelled html is sniffed": ("", b"  <!DOCTYPE html><html>", "html"),
    "unlabelled binary": ("", b"\x89PNG", "other"),
}


@pytest.mark.parametrize(("ctype", "body", "kind"), PAGE_KINDS.values(), ids=PAGE_KINDS.keys())
def test_page_kind(ctype: str, body: bytes, kind: str) -> None:
    """Content types map to html / text capture / other; a missing type is sniffed."""
    assert page_kind(ctype, body) == kind


async def test_concurrent_questions_share_one_robots_request(
    server: HttpServer, http: PoliteClient
) -> None:
    """Five pages of one origin asked at once cause a single robots.txt request."""
    server.route("/robots.txt", Reply(delay=0.1, body=b"User-agent: *\nDisallow: /x\n"))
    robots = Robots(http, fetch_settings())
    answers = await asyncio.gather(*(robots.allowed(server.url(f"/{p}")) for p in "abxcd"))
    assert answers == [True, True, False, True, True]
    assert len(server.hits("/robots.txt")) == 1
