"""`newsd feeds add/remove/pause/resume/list/export` in cluster mode: the feeds topic, not SQLite.

Each command reads the feeds topic, checks the change, and writes one record; the instance that
owns the feed's partition applies it as soon as it reads it.
"""

from __future__ import annotations

from daemon.cluster import feedlist
from daemon.cluster.topics import ensure_topics
from daemon.errors import ConfigError
from daemon.records import FeedSpec
from daemon.settings import Settings
from daemon.sources.feedlist import FeedListing, specs_from_config


async def feed_topic(settings: Settings) -> feedlist.FeedTopic:
    """The group's feeds topic (created when missing); cluster mode needs a shared broker."""
    bootstrap = settings.kafka.bootstrap_servers
    if not bootstrap:
        raise ConfigError(
            "kafka.bootstrap_servers", "cluster mode needs the brokers the instances share"
        )
    await ensure_topics(settings.kafka, settings.cluster, bootstrap)
    return feedlist.FeedTopic(settings.kafka, settings.cluster, bootstrap)


async def add(settings: Settings, spec: FeedSpec) -> None:
    await feedlist.add(await feed_topic(settings), spec)


async def change(settings: Settings, action: str, feed_id: str) -> None:
    """`remove`, `pause` or `resume` one feed by id."""
    topic = await feed_topic(settings)
    if action == "remove":
        await feedlist.remove(topic, feed_id, specs_from_config(settings.feeds))
    else:
        await feedlist.set_paused(topic, feed_id, paused=action == "pause")


async def listing(settings: Settings) -> list[FeedListing]:
    topic = await feed_topic(settings)
    return await feedlist.listing(topic, specs_from_config(settings.feeds))


async def specs(settings: Settings) -> list[FeedSpec]:
    """Every feed on the topic (for `feeds export`)."""
    records = await (await feed_topic(settings)).records()
    return [record.spec for record in records.values()]
