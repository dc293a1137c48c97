"""Feed state, OPML import and the feed list survive a restart of the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.errors import ConfigError
from daemon.settings import FeedConfig
from daemon.sources.feedlist import feed_id_for, specs_from_config
from daemon.sources.feedstate import FeedState, FeedStateRepo
from daemon.sources.opml import import_opml, list_feeds, load_feeds, read_opml
from daemon.state.sqlite import Store
from tests.sources.conftest import FIXTURES


async def reopen(path: Path) -> tuple[Store, FeedStateRepo]:
    store = Store.in_dir(path)
    await store.open()
    repo = FeedStateRepo(store)
    await repo.start()
    return store, repo


async def test_state_survives_closing_and_reopening_the_store(tmp_path: Path) -> None:
    """Cursor, schedule, rate, redirect candidate, aliases and seen keys are read back."""
    store, repo = await reopen(tmp_path)
    state = FeedState(
        feed_id="f1",
        url="https://a.example/feed",
        etag='"v1"',
        last_modified="Mon, 05 Jan 2026 10:00:00 GMT",
        body_hash="abc",
        next_poll_at=1_700_000_000.5,
        error_streak=3,
        polls_since_full=7,
        entry_rate=12.5,
        redirect_url="https://b.example/feed",
        redirect_count=2,
        retired=True,
    )
    await repo.save([state])
    await repo.add_alias("https://old.example/feed", "f1")
    seen = [("guid-1", None), ("guid-2", "2026-01-05T10:00:00+00:00")]
    await repo.record_seen({"f1": seen}, now=1.0)
    await store.close()

    store, repo = await reopen(tmp_path)
    assert (await repo.load())["f1"] == state
    assert await repo.aliases() == {"https://old.example/feed": "f1"}
    assert await repo.seen("f1") == {"guid-1": None, "guid-2": "2026-01-05T10:00:00+00:00"}
    await store.close()


async def test_seen_keys_are_pruned_by_age_and_bounded(repo: FeedStateRepo) -> None:
    """Keys older than the window go, and at most `seen_max` newest keys stay per feed."""
    repo.seen_window, repo.seen_max = 100.0, 3
    await repo.record_seen({"f": [("old", None)], "g": [("other-feed", None)]}, now=1.0)
    await repo.record_seen({"f": [(f"k{i}", None) for i in range(5)]}, now=500.0)
    assert "old" not in await repo.seen("f")
    assert len(await repo.seen("f")) == 3
    assert await repo.seen("g") == {"other-feed": None}


def test_feed_ids_are_deterministic_from_the_normalized_url() -> None:
    """The same feed spelled differently gets the same id; different feeds differ."""
    a = feed_id_for("https://WWW.News.example:443/rss?utm_source=x")
    assert a == feed_id_for("https://www.news.example/rss")
    assert a.startswith("news-example-")
    assert a != feed_id_for("https://www.news.example/atom")


@pytest.mark.parametrize(
    ("feeds", "key"),
    [
        ([{"url": "https://a.example/rss"}, {"url": "https://A.example/rss#x"}], "feeds[1].url"),
        (
            [{"url": "https://a.example/1", "id": "a"}, {"url": "https://a.example/2", "id": "a"}],
            "feeds[1].id",
        ),
    ],
    ids=["same-canonical-url", "same-id"],
)
def test_duplicate_configured_feeds_are_rejected(feeds: list[dict[str, str]], key: str) -> None:
    """Two [[feeds]] with the same id or canonical URL fail at load time, naming the entry."""
    with pytest.raises(ConfigError) as caught:
        specs_from_config([FeedConfig(**f) for f in feeds])
    assert caught.value.reason == key
    assert "feeds[0]" in str(caught.value)


def test_read_opml_finds_nested_outlines() -> None:
    """Every outline with an xmlUrl is a feed; its title becomes the publisher."""
    specs, invalid = read_opml(
        b"<opml version='2.0'><body><outline text='News'>"
        b"<outline text='A' xmlUrl='https://a.example/rss'/>"
        b"<outline title='B' text='b' xmlUrl='http://b.example/atom'/></outline>"
        b"<outline text='C' xmlUrl='ftp://c.example/feed'/></body></opml>"
    )
    assert [(s.url, s.publisher) for s in specs] == [
        ("https://a.example/rss", "A"),
        ("http://b.example/atom", "B"),
    ]
    assert invalid == ["ftp://c.example/feed"]


def test_non_opml_documents_are_refused() -> None:
    """A feed or garbage given as OPML is a ConfigError, not an empty import."""
    with pytest.raises(ConfigError):
        read_opml(b"<rss version='2.0'/>")


async def test_opml_import_is_stored_deduplicated_and_listed(tmp_path: Path) -> None:
    """Importing a real OPML file stores its feeds once; config feeds win; it survives restart."""
    configured = [FeedConfig(url="http://daringfireball.net/feeds/main", publisher="DF")]
    store, repo = await reopen(tmp_path)
    first = await import_opml(FIXTURES / "subscriptions.opml", repo, configured=configured)
    again = await import_opml(FIXTURES / "subscriptions.opml", repo, configured=configured)
    assert len(first.added) > 50
    assert "http://daringfireball.net/feeds/main" in first.duplicates  # configured already
    assert again.added == []
    assert len(again.duplicates) == len(first.added) + len(first.duplicates)
    await store.close()

    store, repo = await reopen(tmp_path)
    listed = await list_feeds(repo, configured=configured)
    assert [r.source for r in listed[:2]] == ["config", "opml"]
    assert len(listed) == len(first.added) + 1
    assert len(await load_feeds(repo, configured)) == len(listed)
    await store.close()
