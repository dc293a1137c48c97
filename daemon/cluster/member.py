"""One instance of a cluster-mode group: its topics, its cursor log, its share of the feeds.

    open()    create the cluster topics when missing, start the cursor log, seed the feeds topic
              with the config file's feeds it does not hold yet
    join()    join the feeds group with the poller (`ownership.FeedOwnership`)
    run()     follow assignments and feed changes until stopped
    close()   leave the group (the last cursors are published on revocation), stop the log

The poller's state repository is `repo`: SQLite stays the local cache, and every cursor the
poller stores for a feed this instance owns is also published to the cursors topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from daemon.cluster.cursors import ClusterStateRepo, CursorLog
from daemon.cluster.feedlist import FeedTopic, seed
from daemon.cluster.ownership import FeedOwnership, Polls
from daemon.cluster.topics import ensure_topics
from daemon.errors import ConfigError
from daemon.settings import FeedConfig, Settings
from daemon.sources.feedlist import specs_from_config
from daemon.state.sqlite import Store


class ClusterMember:
    """The cluster parts of `newsd run`, built from the resolved settings and the local store."""

    def __init__(self, settings: Settings, store: Store) -> None:
        bootstrap = settings.kafka.bootstrap_servers
        if not bootstrap:
            raise ConfigError("kafka.bootstrap_servers", "cluster mode needs a Kafka address")
        self.settings, self.bootstrap = settings, bootstrap
        kafka, cluster, poll = settings.kafka, settings.cluster, settings.poll
        self.cursors = CursorLog(kafka, cluster, bootstrap)
        self.ownership = FeedOwnership(kafka, cluster, bootstrap, self.cursors)
        self.repo = ClusterStateRepo(
            store,
            self.cursors,
            self.ownership.owned,
            seen_window=poll.seen_window,
            seen_max=poll.seen_max_per_feed,
        )
        self.topic = FeedTopic(kafka, cluster, bootstrap)

    async def open(self) -> None:
        await ensure_topics(self.settings.kafka, self.settings.cluster, self.bootstrap)
        await self.repo.start()
        await self.cursors.start()
        await self.seed(self.settings.feeds)

    async def seed(self, feeds: Sequence[FeedConfig]) -> list[str]:
        """Write the configured feeds the feeds topic does not hold yet (SIGHUP too)."""
        return await seed(self.topic, specs_from_config(feeds))

    async def join(self, poller: Polls) -> None:
        await self.ownership.start(poller, self.repo)

    async def run(self, stop: asyncio.Event) -> None:
        await self.ownership.run(stop)

    async def close(self) -> None:
        await self.ownership.close()
        await self.cursors.close()
