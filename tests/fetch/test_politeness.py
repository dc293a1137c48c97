"""Politeness: per-domain spacing and concurrency, measured with server-side timestamps."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from daemon.fetch.client import PoliteClient
from daemon.fetch.hosts import Politeness, domain_of, registrable_domain
from tests.fetch.support import fetch_settings
from tests.httpserver import Hit, HttpServer, Reply


def _max_overlap(hits: list[Hit], slack: float = 0.01) -> int:
    """Most requests in progress at any request start (a finish stamped within `slack` after a
    start counts as before it: the server stamps `finished` just after writing the response)."""
    return max(
        sum(1 for other in hits if other.started <= hit.started < other.finished - slack)
        for hit in hits
    )


async def test_requests_to_one_domain_are_spaced(server: HttpServer) -> None:
    """Three requests to one domain start at least per_domain_min_interval apart (server clock)."""
    server.route("/a", Reply(body=b"ok"))
    settings = fetch_settings(per_domain_min_interval=0.3)
    async with PoliteClient(settings) as http:
        await asyncio.gather(*(http.get(server.url(f"/a?{i}"), kind="page") for i in range(3)))
    starts = sorted(h.started for h in server.hits("/a"))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 3
    assert min(gaps) >= 0.28  # 20 ms for the server thread's own scheduling


async def test_per_domain_concurrency_is_respected(server: HttpServer) -> None:
    """Eight slow requests to one domain never overlap more than per_domain_concurrency=2."""
    server.route("/slow", Reply(delay=0.15, body=b"ok"))
    settings = fetch_settings(per_domain_concurrency=2)
    async with PoliteClient(settings) as http:
        await asyncio.gather(*(http.get(server.url(f"/slow?{i}"), kind="page") for i in range(8)))
    hits = server.hits("/slow")
    assert len(hits) == 8
    assert _max_overlap(hits) == 2


async def test_global_concurrency_caps_all_domains(server: HttpServer) -> None:
    """Across two domains (127.0.0.1 and localhost), global_concurrency=1 serialises requests."""
    server.route("/slow", Reply(delay=0.1, body=b"ok"))
    settings = fetch_settings(
        global_concurrency=1, allow_private_networks=["127.0.0.1/32", "::1/128"]
    )
    urls = [server.url("/slow?a"), server.url("/slow?b", host="localhost")] * 2
    async with PoliteClient(settings) as http:
        await asyncio.gather(*(http.get(url, kind="page") for url in urls))
    assert _max_overlap(server.hits("/slow")) == 1


async def test_retry_after_pushes_the_domain_later(server: HttpServer) -> None:
    """A 429 with Retry-After: 1 delays the next request to that domain by about a second."""
    server.route("/limited", Reply(status=429, headers={"Retry-After": "1"}), Reply(body=b"ok"))
    async with PoliteClient(fetch_settings()) as http:
        first = await http.get(server.url("/limited"), kind="feed")
        second = await http.get(server.url("/limited"), kind="feed")
    assert (first.status, second.status) == (429, 200)
    hits = server.hits("/limited")
    assert hits[1].started - hits[0].started >= 0.9


DOMAINS = {
    "plain": ("www.example.com", "example.com"),
    "public suffix co.uk": ("news.bbc.co.uk", "bbc.co.uk"),
    "private suffix: one host farm": ("alice.github.io", "github.io"),
    "ip host": ("127.0.0.1", "127.0.0.1"),
    "ipv6 host": ("[::1]", "::1"),
    "single label": ("localhost", "localhost"),
    "trailing dot, upper case": ("WWW.Example.COM.", "example.com"),
}


@pytest.mark.parametrize(("host", "domain"), DOMAINS.values(), ids=DOMAINS.keys())
def test_registrable_domain(host: str, domain: str) -> None:
    """Budgets are kept per registrable domain, public-suffix aware; IP hosts stand alone."""
    assert registrable_domain(host) == domain


def test_domain_of_url() -> None:
    """Subdomains of one site share a budget."""
    assert domain_of("https://a.example.co.uk/x") == domain_of("http://b.example.co.uk:8080/")


async def test_idle_domains_are_evicted() -> None:
    """After many one-off domains, only max_idle_domains entries (plus busy ones) remain."""
    clock = [0.0]
    polite = Politeness(min_interval=1.0, max_idle_domains=10, clock=lambda: clock[0])
    for i in range(100):
        async with polite.slot(f"http://site{i}.example{i}.com/"):
            pass
        clock[0] += 2.0  # every earlier domain's spacing has elapsed
    assert polite.tracked_domains <= 11


async def test_spacing_on_a_fake_clock() -> None:
    """Starts to one domain are min_interval apart on the injected clock; other domains are not
    held up."""
    now = [0.0]
    starts: list[tuple[str, float]] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    polite = Politeness(min_interval=5.0, clock=lambda: now[0], sleep=sleep)
    for url in ("http://a.com/1", "http://a.com/2", "http://b.com/1", "http://a.com/3"):
        async with polite.slot(url):
            starts.append((url, now[0]))
    assert starts == [
        ("http://a.com/1", 0.0),
        ("http://a.com/2", 5.0),
        ("http://b.com/1", 5.0),
        ("http://a.com/3", 10.0),
    ]


async def test_defer_is_capped() -> None:
    """A huge Retry-After is capped at max_defer."""
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    polite = Politeness(min_interval=0.0, max_defer=60.0, clock=lambda: now[0], sleep=sleep)
    polite.defer("http://a.com/", 10**9)
    async with polite.slot("http://www.a.com/x"):
        assert now[0] == 60.0


async def test_sweeps_are_amortised_while_many_domains_are_spaced() -> None:
    """Thousands of domains inside their spacing: the table is not rescanned on every request
    (few sweeps), and once their spacing has passed they are evicted."""
    clock = [0.0]
    polite = Politeness(min_interval=60.0, max_idle_domains=10, clock=lambda: clock[0])
    sweeps = 0
    original = polite._evict_idle

    def counting() -> None:
        nonlocal sweeps
        sweeps += len(polite._domains) > polite._sweep_above  # this call scans the table
        original()

    polite._evict_idle = counting  # type: ignore[method-assign]
    for i in range(2000):
        async with polite.slot(f"http://site{i}.example/"):
            pass
    assert polite.tracked_domains == 2000  # all still inside their 60 s spacing
    assert sweeps <= 12  # doubling thresholds: about log2(2000 / 10) sweeps, not 2000
    clock[0] += 61.0
    for i in range(2000, 4100):
        async with polite.slot(f"http://site{i}.example/"):
            pass
    assert polite.tracked_domains < 4100  # the spaced-out ones were swept
