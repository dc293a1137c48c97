"""The cluster topics against the real test broker: feed commands, cursors, one group member."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from daemon.cluster import commands
from daemon.cluster.cursors import ClusterStateRepo, CursorLog
from daemon.cluster.feedlist import seed
from daemon.cluster.ownership import FeedOwnership
from daemon.cluster.topics import ensure_topics, read_partitions
from daemon.errors import ConfigError
from daemon.settings import Settings, load
from daemon.sources import feedadmin
from daemon.sources.feedcontrol import FeedSet
from daemon.sources.feedlist import specs_from_config
from daemon.sources.feedstate import FeedState
from daemon.state.sqlite import Store


@pytest.fixture
def cluster_settings(kafka_settings: Settings, topic_prefix: str, tmp_path: Any) -> Settings:
    return load(
        None,
        kafka=kafka_settings.kafka.model_dump(),
        state={"dir": tmp_path / "state"},
        cluster={
            "enabled": True,
            "group": f"{topic_prefix}group",
            "topic_prefix": f"{topic_prefix}cluster",
            "feeds_partitions": 4,
            "session_timeout_ms": 3000,
            "heartbeat_interval_ms": 300,
        },
        feeds=[{"id": "declared", "url": "http://127.0.0.1:9/declared.xml"}],
    )


async def listed(settings: Settings, capsys: Any) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert await feedadmin.feeds_list(settings, as_json=True) == 0
    return {row["feed_id"]: row for row in json.loads(capsys.readouterr().out)}


async def test_feed_commands_write_the_feeds_topic(cluster_settings, capsys):
    """In cluster mode `feeds add/pause/resume/remove/list` work on the feeds topic; a known URL
    is refused, and so is removing a feed the config file declares."""
    settings = cluster_settings
    member_topic = await commands.feed_topic(settings)
    assert await seed(member_topic, specs_from_config(settings.feeds)) == ["declared"]
    assert await seed(member_topic, specs_from_config(settings.feeds)) == []  # idempotent
    await feedadmin.feeds_add(
        settings, "http://127.0.0.1:9/x.xml", feed_id="x", interval=None, tags=["t"]
    )
    with pytest.raises(ConfigError, match="already a feed"):
        await feedadmin.feeds_add(
            settings, "http://127.0.0.1:9/x.xml", feed_id="y", interval=None, tags=[]
        )
    await feedadmin.feeds_change(settings, "pause", "x")
    rows = await listed(settings, capsys)
    assert {f: r["state"] for f, r in rows.items()} == {"declared": "active", "x": "paused"}
    assert rows["x"]["tags"] == ["t"] and rows["declared"]["source"] == "config"
    await feedadmin.feeds_change(settings, "resume", "x")
    assert (await listed(settings, capsys))["x"]["state"] == "active"
    with pytest.raises(ConfigError, match="config file"):
        await feedadmin.feeds_change(settings, "remove", "declared")
    await feedadmin.feeds_change(settings, "remove", "x")
    assert set(await listed(settings, capsys)) == {"declared"}
    with pytest.raises(ConfigError, match="no feed"):
        await feedadmin.feeds_change(settings, "pause", "x")


async def test_cursors_of_owned_feeds_are_published_and_restored_elsewhere(
    cluster_settings, tmp_path
):
    """A cursor (validators, schedule, error streak, seen keys) saved by the owner is restored
    into another instance's empty store; a feed not owned is not published, and a cursor whose
    schedule alone moved is not published again."""
    settings = cluster_settings
    bootstrap = settings.kafka.bootstrap_servers
    assert bootstrap
    await ensure_topics(settings.kafka, settings.cluster, bootstrap)
    log = CursorLog(settings.kafka, settings.cluster, bootstrap)
    await log.start()
    stores = [Store.in_dir(tmp_path / "one"), Store.in_dir(tmp_path / "two")]
    try:
        for store in stores:
            await store.open()
        owner = ClusterStateRepo(stores[0], log, lambda: frozenset({"a"}))
        await owner.start()
        await owner.record_seen({"a": [("guid-1", None), ("guid-2", "v2")]}, now=1.0)
        a = FeedState("a", "http://127.0.0.1:9/a.xml", etag='"e1"', error_streak=2)
        await owner.save([a, FeedState("b", "http://127.0.0.1:9/b.xml", etag='"e2"')])
        found = await log.read(range(settings.cluster.feeds_partitions))
        assert set(found) == {"a"}
        a.next_poll_at, a.polls_since_full = 99.0, 1  # a poll that found nothing new
        await owner.save([a])
        topic = log.topic
        records, _ = await read_partitions(settings.kafka, bootstrap, topic)
        assert len(records) == 1  # not published again
        a.next_poll_at, a.polls_since_full = None, 0  # as published
        heir = ClusterStateRepo(stores[1], log, lambda: frozenset())
        await heir.start()
        await heir.restore(found, now=2.0)
        assert (await heir.load())["a"] == a
        assert await heir.seen("a") == {"guid-1": None, "guid-2": "v2"}
    finally:
        await log.close()
        for store in stores:
            await store.close()


class RecordingPoller:
    """Stands in for the poller: records the feed sets handed over and the feeds released."""

    def __init__(self) -> None:
        self.states: dict[str, Any] = {}
        self.applied: list[FeedSet] = []
        self.released: list[frozenset[str]] = []

    async def apply(self, feeds: FeedSet) -> None:
        self.applied.append(feeds)
        self.states = {s.feed_id: None for s in feeds.specs}

    async def flush(self) -> None:
        return None

    async def release(self, feed_ids: Any, *, timeout: float) -> frozenset[str]:
        self.released.append(frozenset(feed_ids))
        return frozenset()


async def wait_for(condition: Any, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.mark.timeout(120)
async def test_a_lone_member_owns_every_feed_and_follows_commands(cluster_settings, tmp_path):
    """One member gets every partition, hands the poller all feeds, and applies a pause and a
    removal written by the commands while it runs."""
    settings = cluster_settings
    bootstrap = settings.kafka.bootstrap_servers
    assert bootstrap
    topic = await commands.feed_topic(settings)
    await seed(topic, specs_from_config(settings.feeds))
    await feedadmin.feeds_add(
        settings, "http://127.0.0.1:9/x.xml", feed_id="x", interval=None, tags=[]
    )
    log = CursorLog(settings.kafka, settings.cluster, bootstrap)
    await log.start()
    store = Store.in_dir(tmp_path / "member")
    await store.open()
    ownership = FeedOwnership(settings.kafka, settings.cluster, bootstrap, log)
    repo = ClusterStateRepo(store, log, ownership.owned)
    await repo.start()
    poller, stop = RecordingPoller(), asyncio.Event()
    await ownership.start(poller, repo)  # type: ignore[arg-type]
    running = asyncio.create_task(ownership.run(stop))
    try:
        await wait_for(lambda: set(poller.states) == {"declared", "x"})
        assert ownership.readiness() == "cluster: assigned 4 partitions"
        await feedadmin.feeds_change(settings, "pause", "x")
        await wait_for(lambda: poller.applied[-1].paused == {"x"})
        await feedadmin.feeds_change(settings, "remove", "x")
        await wait_for(lambda: set(poller.states) == {"declared"})
    finally:
        stop.set()
        await running
        await ownership.close()
        await log.close()
        await store.close()
