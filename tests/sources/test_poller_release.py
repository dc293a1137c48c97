"""`Poller.release`: a feed that moved to another instance stops here, its state stored first."""

from __future__ import annotations

import asyncio

from daemon.fetch.client import PoliteClient
from daemon.records import FeedEntry
from daemon.sources.feedcontrol import FeedSet
from daemon.sources.feedstate import FeedStateRepo
from tests.httpserver import HttpServer, Reply
from tests.sources.feeds import RSS_TYPE, rss
from tests.sources.test_poller import feed, poller


class HeldSink:
    """The pipeline's `emit`: keeps entries out until `settle_all()`."""

    def __init__(self) -> None:
        self.entries: list[FeedEntry] = []

    async def __call__(self, entry: FeedEntry) -> None:
        self.entries.append(entry)

    async def settle_all(self) -> None:
        for entry in self.entries:
            assert entry.settle is not None
            await entry.settle(entry, True)


async def test_release_waits_for_entries_out_then_stores_and_forgets_the_feed(
    server: HttpServer, fetcher: PoliteClient, repo: FeedStateRepo
):
    """A released feed is not scheduled any more; while an entry is out it is kept (busy); once
    the entry settled, its seen key and cursor are stored and the poller forgets the feed."""
    server.route("/feed.xml", Reply(body=rss([("g1", "http://127.0.0.1/1")]), headers=RSS_TYPE))
    sink = HeldSink()
    p = poller([feed(server)], fetcher, repo, sink)
    await p.apply(FeedSet((feed(server),)))
    await p.poll("f")
    assert len(sink.entries) == 1
    busy = await p.release({"f"}, timeout=0.1)
    assert busy == {"f"} and "f" in p.inactive and "f" in p.states
    settling = asyncio.create_task(sink.settle_all())
    assert await p.release({"f"}, timeout=2.0) == frozenset()
    await settling
    assert "f" not in p.states and "f" not in p.feeds
    assert await repo.seen("f") == {"g1": None}
    assert (await repo.load())["f"].last_success_at is not None
