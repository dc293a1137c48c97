"""Runtime feed control: OPML round trips, the control counter, and the poller adopting a set."""

from __future__ import annotations

import random
from pathlib import Path

from daemon.records import FeedSpec
from daemon.settings import FeedConfig, PollSettings
from daemon.sources import feedadmin
from daemon.sources.feedcontrol import FeedControlRepo, FeedSet, FeedWatcher, current_feeds
from daemon.sources.feedstate import FeedState, FeedStateRepo
from daemon.sources.opml import read_opml
from daemon.sources.poller import Poller
from daemon.state.sqlite import Store
from tests.sources.conftest import FIXTURES

CATEGORIES = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
<outline text="News"><outline text="World">
  <outline type="rss" text="A" xmlUrl="https://a.example/rss" category="/Politics,/Europe/EU"/>
</outline></outline>
<outline type="rss" text="https://b.example/atom" xmlUrl="https://b.example/atom" language="de"/>
</body></opml>
"""


async def repos_in(path: Path, configured: list[FeedConfig]) -> tuple[Store, feedadmin.FeedRepos]:
    store = Store.in_dir(path)
    await store.open()
    state, control = FeedStateRepo(store), FeedControlRepo(store)
    await state.start()
    await control.start()
    return store, feedadmin.FeedRepos(state, control, configured)


def comparable(specs: tuple[FeedSpec, ...] | list[FeedSpec]) -> set[tuple[object, ...]]:
    return {(s.feed_id, s.url, s.publisher, s.language, s.tags) for s in specs}


def test_opml_categories_come_from_the_attribute_and_the_enclosing_folders() -> None:
    """`category` paths (leading slash dropped) come first, then the folder path; a text that
    only repeats the URL is not a publisher; `language` is kept."""
    specs, invalid = read_opml(CATEGORIES)
    assert invalid == []
    assert [(s.url, s.publisher, s.language, s.tags) for s in specs] == [
        ("https://a.example/rss", "A", None, ("Politics", "Europe/EU", "News/World")),
        ("https://b.example/atom", None, "de", ()),
    ]


async def test_opml_export_then_import_reproduces_the_same_feed_set(tmp_path: Path) -> None:
    """Config feeds, CLI feeds (custom id, tags) and OPML imports exported to OPML 2.0 and
    imported into an empty state give the same ids, URLs, publishers, languages and tags."""
    configured = [FeedConfig(url="https://conf.example/rss", id="conf", tags=["Wire"])]
    store, repos = await repos_in(tmp_path / "one", configured)
    opml = tmp_path / "in.opml"
    opml.write_bytes(CATEGORIES)
    await feedadmin.import_file(repos, opml)
    await feedadmin.import_file(repos, FIXTURES / "subscriptions.opml")
    await feedadmin.add_feed(repos, "https://cli.example/feed", feed_id="mine", tags=["Tech"])
    exported = await feedadmin.export_opml(repos)
    before = (await current_feeds(repos.state, repos.control, configured)).specs
    await store.close()
    assert b'version="2.0"' in exported

    again = tmp_path / "out.opml"
    again.write_bytes(exported)
    store, repos = await repos_in(tmp_path / "two", [])
    result = await feedadmin.import_file(repos, again)
    after = (await current_feeds(repos.state, repos.control, [])).specs
    await store.close()
    assert result.duplicates == [] and result.invalid == []
    assert len(before) > 50
    assert comparable(after) == comparable(before)


async def test_every_feed_command_moves_the_control_counter(tmp_path: Path) -> None:
    """add, pause, resume and remove each bump the counter a daemon watches; resume leaves an
    un-retire request that `clear_unretire` settles; remove forgets the pause flag."""
    store, repos = await repos_in(tmp_path, [])
    seen = [await repos.control.version()]
    await feedadmin.add_feed(repos, "https://x.example/rss", feed_id="x")
    seen.append(await repos.control.version())
    await feedadmin.set_paused(repos, "x", paused=True)
    seen.append(await repos.control.version())
    assert await repos.control.controls() == (frozenset({"x"}), frozenset())
    await feedadmin.set_paused(repos, "x", paused=False)
    seen.append(await repos.control.version())
    assert await repos.control.controls() == (frozenset(), frozenset({"x"}))
    await repos.control.clear_unretire(frozenset({"x"}))
    assert await repos.control.controls() == (frozenset(), frozenset())
    await feedadmin.set_paused(repos, "x", paused=True)
    await feedadmin.remove_feed(repos, "x")
    seen.append(await repos.control.version())
    assert await repos.control.controls() == (frozenset(), frozenset())  # re-added: active
    await store.close()
    assert seen == sorted(set(seen)) and len(seen) == 5


class NoEmit:
    async def __call__(self, entry: object) -> None:
        raise AssertionError("nothing is polled in this test")


async def test_poller_adopts_added_paused_removed_and_unretired_feeds(tmp_path: Path) -> None:
    """A feed added at run time starts from its stored cursor; paused and removed feeds are not
    scheduled; resuming a 410-retired feed makes it due again, and that is stored."""
    store, repos = await repos_in(tmp_path, [])
    await repos.state.save(
        [
            FeedState(feed_id="b", url="http://b.example/rss", etag='"b1"', next_poll_at=0.0),
            FeedState(feed_id="c", url="http://c.example/rss", retired=True),
        ]
    )
    specs = [FeedSpec(feed_id=f, url=f"http://{f}.example/rss") for f in "abc"]
    poller = Poller(
        PollSettings(), specs[:1], NoEmit(), repos.state, NoEmit(), rng=random.Random(1)
    )
    await poller.start()
    await poller.apply(FeedSet(tuple(specs), paused=frozenset({"a"})))
    assert poller.states["b"].etag == '"b1"'
    assert poller.inactive == {"a"}
    await poller.apply(FeedSet(tuple(specs[2:]), unretire=frozenset({"c"})))
    assert poller.inactive == {"a", "b"}
    assert not poller.states["c"].retired and poller.states["c"].next_poll_at is None
    await poller.flush()
    assert not (await repos.state.load())["c"].retired
    await store.close()


async def test_the_watcher_hands_over_the_set_and_settles_unretire_requests(tmp_path: Path) -> None:
    """`FeedWatcher.apply` hands the current set over and settles un-retire requests."""
    store, repos = await repos_in(tmp_path, [FeedConfig(url="http://conf.example/rss", id="k")])
    watcher = FeedWatcher(repos.state, repos.control, repos.configured, every=0.05)
    poller = Poller(PollSettings(), [], NoEmit(), repos.state, NoEmit())
    await feedadmin.set_paused(repos, "k", paused=False)
    applied = await watcher.apply(poller)
    assert [s.feed_id for s in applied.specs] == ["k"] and applied.unretire == {"k"}
    assert await repos.control.controls() == (frozenset(), frozenset())
    await store.close()
