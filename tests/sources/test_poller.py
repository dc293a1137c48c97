"""The Poller against a real HTTP server on 127.0.0.1, through the real guarded PoliteClient."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from daemon.fetch.client import PoliteClient
from daemon.fetch.hosts import Politeness
from daemon.records import FeedEntry, FeedSpec
from daemon.settings import PollSettings
from daemon.sources.feedstate import FeedStateRepo
from daemon.sources.poller import Poller
from daemon.state.sqlite import Store
from tests.conftest import until
from tests.fetch.support import fetch_settings
from tests.httpserver import Hit, HttpServer, Reply
from tests.sources.conftest import FIXTURES
from tests.sources.feeds import RSS_TYPE, rss


class Sink:
    """The pipeline's `emit`: records entries and (optionally) settles them at once."""

    def __init__(self, *, publish: bool | None = True) -> None:
        self.entries: list[FeedEntry] = []
        self.publish = publish  # settle as done (True), not done (False), or not at all (None)

    async def __call__(self, entry: FeedEntry) -> None:
        self.entries.append(entry)
        if self.publish is not None and entry.settle is not None:
            await entry.settle(entry, self.publish)

    def keys(self) -> list[str | None]:
        return [e.guid for e in self.entries]


def poller(
    feeds: Sequence[FeedSpec],
    fetcher: PoliteClient,
    repo: FeedStateRepo,
    sink: Sink,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    **settings: Any,
) -> Poller:
    return Poller(
        PollSettings(**{"min_interval": 60.0, **settings}),
        feeds,
        fetcher,
        repo,
        sink,
        now=now,
        rng=random.Random(3),
    )


class Clock:
    """A clock that moves only when told to, and counts how often it was read."""

    def __init__(self) -> None:
        self.at = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        self.reads = 0

    def __call__(self) -> datetime:
        self.reads += 1
        return self.at


def feed(server: HttpServer, path: str = "/feed.xml", feed_id: str = "f") -> FeedSpec:
    return FeedSpec(feed_id=feed_id, url=server.url(path))


def etag_server(etag: str, body: bytes) -> Any:
    """Answers 304 when If-None-Match matches `etag`, else 200 with the body (RFC 9110 §13.1.2)."""

    def answer(hit: Hit) -> Reply:
        if hit.headers.get("if-none-match") == etag:
            return Reply(status=304, headers={"ETag": etag})
        return Reply(body=body, headers={**RSS_TYPE, "ETag": etag})

    return answer


async def test_not_modified_path_sends_validators_and_emits_nothing(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """The second poll is conditional; a 304 emits nothing and is counted as not_modified."""
    server.route("/feed.xml", etag_server('"v1"', rss(["a", "b"])))
    sink = Sink()
    p = poller([feed(server)], fetcher, repo, sink)
    await p.run_once()
    await p.run_once()
    assert sink.keys() == ["a", "b"]
    assert p.counts["poll.not_modified"] == 1
    assert server.hits("/feed.xml")[1].headers["if-none-match"] == '"v1"'


async def test_same_etag_with_changed_body_is_caught_by_the_body_hash(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """A server that sends the same ETag with a new body (and 200): the new item is found."""
    same = {**RSS_TYPE, "ETag": '"same"'}
    server.route(
        "/feed.xml",
        Reply(body=rss(["a"]), headers=same),
        Reply(body=rss(["b", "a"]), headers=same),
        Reply(body=rss(["b", "a"]), headers=same),
    )
    sink = Sink()
    p = poller([feed(server)], fetcher, repo, sink)
    for _ in range(3):
        await p.run_once()
    assert sink.keys() == ["a", "b"]
    assert p.counts["poll.unchanged"] == 1  # the third body equals the second: nothing to parse


async def test_lying_304_is_caught_by_the_periodic_full_fetch(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """A server that answers 304 to any validator hides new items until a full fetch."""
    bodies = iter([rss(["a"]), rss(["b", "a"])])

    def liar(hit: Hit) -> Reply:
        if "if-none-match" in hit.headers:
            return Reply(status=304)
        return Reply(body=next(bodies), headers={**RSS_TYPE, "ETag": '"x"'})

    server.route("/feed.xml", liar)
    sink = Sink()
    p = poller([feed(server)], fetcher, repo, sink, force_full_fetch_every=3)
    for _ in range(4):
        await p.run_once()
    assert sink.keys() == ["a", "b"]
    sent = ["if-none-match" in h.headers for h in server.hits("/feed.xml")]
    assert sent == [False, True, True, False]


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_is_honoured(
    form: str, server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """429 with Retry-After (seconds or an HTTP date): the next poll is not sooner."""
    value = "7200"
    if form == "http-date":
        value = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    server.route("/feed.xml", Reply(status=429, headers={"Retry-After": value}))
    p = poller([feed(server)], fetcher, repo, Sink())
    await p.run_once()
    delay = (p.states["f"].next_poll_at or 0) - time.time()
    assert 7200 - 5 <= delay <= 7200 * 1.1 + 5
    assert p.counts["poll.error.http_429"] == 1
    assert p.states["f"].error_streak == 1


@pytest.mark.parametrize("status", [429, 503])
async def test_rate_limit_storm_is_spread_by_jitter(status: int, repo: FeedStateRepo) -> None:
    """40 feeds all answered `status` with Retry-After 120: no two retry at the same instant."""
    settings = fetch_settings()
    # The fetcher's own per-domain deferral is switched off: this is about the feed schedule.
    politeness = Politeness.from_settings(settings, max_defer=0.0)
    with HttpServer() as server:
        server.route("/feed.xml", Reply(status=status, headers={"Retry-After": "120"}))
        feeds = [feed(server, f"/feed.xml?n={i}", f"f{i}") for i in range(40)]
        async with PoliteClient(settings, politeness=politeness) as client:
            p = poller(feeds, client, repo, Sink())
            await p.run_once()
    times = [s.next_poll_at for s in p.states.values()]
    assert p.counts[f"poll.error.http_{status}"] == 40
    assert len(set(times)) == 40
    assert min(t or 0 for t in times) >= time.time() + 115


async def test_errors_back_off_but_never_abandon(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """Repeated 500s grow the delay up to the cap; the feed stays scheduled, not retired."""
    server.route("/feed.xml", Reply(status=500))
    p = poller([feed(server)], fetcher, repo, Sink(), backoff_base=60, backoff_cap=3600, jitter=0)
    delays = []
    for _ in range(8):
        await p.run_once()
        delays.append(round((p.states["f"].next_poll_at or 0) - time.time()))
    assert delays[:4] == pytest.approx([60, 120, 240, 480], abs=3)
    assert delays[-1] == pytest.approx(3600, abs=3)
    assert not p.states["f"].retired and p.states["f"].error_streak == 8


async def test_only_consistent_permanent_redirects_move_the_feed(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """302s never rewrite; K consecutive 301s do, and the old URL is kept as an alias."""
    server.route("/new.xml", Reply(body=rss(["a"]), headers=RSS_TYPE))
    server.route(
        "/old.xml",
        Reply(status=302, headers={"Location": "/temp.xml"}),
        Reply(status=302, headers={"Location": "/temp.xml"}),
        Reply(status=301, headers={"Location": "/new.xml"}),
        Reply(status=301, headers={"Location": "/new.xml"}),
        Reply(status=301, headers={"Location": "/new.xml"}),
    )
    server.route("/temp.xml", Reply(body=rss(["a"]), headers=RSS_TYPE))
    sink = Sink()
    p = poller([feed(server, "/old.xml")], fetcher, repo, sink, redirect_confirmations=3)
    urls = []
    with capture_logs() as logs:
        for _ in range(5):
            await p.run_once()
            urls.append(p.states["f"].url)
    old, new = server.url("/old.xml"), server.url("/new.xml")
    assert urls == [old, old, old, old, new]
    assert await repo.aliases() == {old: "f"}
    moved = [e for e in logs if e["event"] == "feed.moved"]
    assert moved == [{**moved[0], "feed_id": "f", "url": old, "new_url": new}]
    await p.run_once()
    assert server.hits("/new.xml")[-1].headers.get("if-none-match") is None  # polled directly
    assert len(server.hits("/old.xml")) == 5


async def test_410_retires_the_feed(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """410 Gone retires the feed with a logged event; it is not polled again."""
    server.route("/feed.xml", Reply(status=410))
    p = poller([feed(server)], fetcher, repo, Sink())
    with capture_logs() as logs:
        await p.run_once()
        await p.run_once()
    assert p.states["f"].retired
    assert len(server.hits("/feed.xml")) == 1
    assert p.counts["poll.gone"] == 1
    assert any(e["event"] == "feed.retired" and e["feed_id"] == "f" for e in logs)


async def test_html_error_page_is_a_counted_error_not_zero_items(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """An HTML page served with 200 where the feed was is `not_a_feed`, and backs off."""
    page = (FIXTURES / "html_page_not_a_feed.html").read_bytes()
    server.route("/feed.xml", Reply(body=page, headers={"Content-Type": "text/html"}))
    p = poller([feed(server)], fetcher, repo, Sink())
    with capture_logs() as logs:
        await p.run_once()
    assert p.counts["poll.error.not_a_feed"] == 1
    assert p.counts["poll.ok"] == 0
    assert p.states["f"].error_streak == 1
    assert [e["reason"] for e in logs if e["event"] == "feed.error"] == ["not_a_feed"]


async def test_updated_entries_flow_on_as_updates(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """A known GUID whose `updated` changed is emitted again with is_update=True."""
    server.route(
        "/feed.xml",
        Reply(body=rss([("a", "2026-01-05T10:00:00Z")]), headers=RSS_TYPE),
        Reply(body=rss([("a", "2026-01-05T11:00:00Z")]), headers=RSS_TYPE),
    )
    sink = Sink()
    p = poller([feed(server)], fetcher, repo, sink)
    await p.run_once()
    await p.run_once()
    assert [(e.guid, e.is_update) for e in sink.entries] == [("a", False), ("a", True)]
    assert p.counts["entries.updated"] == 1


async def test_unpublished_entries_are_emitted_again_and_hold_the_cursor(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """Settled not done: the entry comes again next poll, which is unconditional."""
    server.route("/feed.xml", etag_server('"v1"', rss(["a", "b"])))
    failing = Sink(publish=False)
    p = poller([feed(server)], fetcher, repo, failing)
    await p.run_once()
    assert p.states["f"].etag is None  # cursor not advanced
    p.emit = ok = Sink()
    await p.run_once()
    assert ok.keys() == ["a", "b"]
    assert "if-none-match" not in server.hits("/feed.xml")[1].headers
    assert p.states["f"].etag == '"v1"'  # all published now: the cursor moves
    await p.run_once()
    assert server.hits("/feed.xml")[2].headers["if-none-match"] == '"v1"'


async def test_entries_in_flight_are_not_emitted_twice(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """An overlapping poll skips entries still awaiting the broker; they count once settled."""
    server.route("/feed.xml", Reply(body=rss(["a"]), headers=RSS_TYPE))
    held = Sink(publish=None)
    p = poller([feed(server)], fetcher, repo, held)
    await p.run_once()
    await p.run_once()
    assert held.keys() == ["a"]
    entry = held.entries[0]
    assert entry.settle is not None
    await entry.settle(entry, True)
    await p.flush()
    assert await repo.seen("f") == {"a": None}


async def test_state_survives_a_restart(server: HttpServer, tmp_path: Path) -> None:
    """A new process (new Store, new Poller) sends the stored ETag and re-emits nothing."""
    server.route("/feed.xml", etag_server('"v1"', rss(["a", "b"])))
    spec = feed(server)
    for round_ in range(2):
        store = Store.in_dir(tmp_path)
        await store.open()
        repo = FeedStateRepo(store)
        sink = Sink()
        async with PoliteClient(fetch_settings()) as client:
            p = poller([spec], client, repo, sink)
            await p.run_once()
        await p.close()
        await store.close()
        assert sink.keys() == (["a", "b"] if round_ == 0 else [])
    assert server.hits("/feed.xml")[1].headers["if-none-match"] == '"v1"'


async def test_run_polls_due_feeds_until_stopped(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """`run` polls every due feed, then waits for the schedule (ticks pass, nothing is due), polls
    again once the clock reaches the next poll time; `stop` ends it cleanly."""
    server.route("/feed.xml", Reply(body=rss(["a"]), headers=RSS_TYPE))
    sink, clock = Sink(), Clock()
    feeds = [feed(server, feed_id=f"f{i}") for i in range(3)]
    p = poller(feeds, fetcher, repo, sink, now=clock, tick=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(p.run(stop))
    await until(lambda: p.counts["poll.ok"] == 3)
    reads = clock.reads
    await until(lambda: clock.reads >= reads + 20)  # ten ticks or more
    assert len(server.hits("/feed.xml")) == 3  # each feed once: the next poll is minutes away
    clock.at += timedelta(days=1)
    await until(lambda: len(server.hits("/feed.xml")) == 6)  # each feed polled again
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(await repo.load()) == 3


async def test_cursor_never_moves_past_entries_still_in_flight(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """A poll that finds every entry still in flight stores no cursor (body hash, ETag) until
    they are all done, so a crash meanwhile cannot hide them behind an unchanged feed."""
    server.route("/feed.xml", etag_server('"v1"', rss(["a", "b"])))
    held = Sink(publish=None)
    p = poller([feed(server)], fetcher, repo, held)
    await p.run_once()
    await p.run_once()  # nothing new: both entries are in flight
    stored = (await repo.load())["f"]
    assert (stored.etag, stored.body_hash) == (None, None)
    first, second = held.entries
    assert first.settle is not None and second.settle is not None
    await first.settle(first, True)
    await p.flush()
    assert (await repo.load())["f"].body_hash is None  # "b" is still out
    await second.settle(second, True)
    await p.flush()
    stored = (await repo.load())["f"]
    assert stored.etag == '"v1"' and stored.body_hash is not None


async def test_an_overlapping_poll_does_not_store_its_cursor_before_older_entries_are_done(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
) -> None:
    """Entries of a later poll done first do not move the cursor while an earlier poll's
    entry is still out; an entry settled not done keeps it empty until offered again."""
    server.route(
        "/feed.xml",
        Reply(body=rss(["a"]), headers=RSS_TYPE),
        Reply(body=rss(["a", "b"]), headers=RSS_TYPE),
    )
    held = Sink(publish=None)
    p = poller([feed(server)], fetcher, repo, held)
    await p.run_once()
    await p.run_once()
    a, b = held.entries
    assert a.settle is not None and b.settle is not None
    await b.settle(b, True)
    assert p.states["f"].body_hash is None
    await a.settle(a, False)
    assert p.states["f"].body_hash is None
    p.emit = Sink()
    await p.run_once()
    assert p.states["f"].body_hash is not None
