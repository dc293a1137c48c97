"""The feed list in cluster mode: the feeds topic, written by `newsd feeds …` and at start-up.

    seed        at start-up, the config file's `[[feeds]]` not yet on the topic are written
                (idempotent: the key is the feed id, an existing record is left alone)
    add         a new record; refused when the id or the URL is already a feed
    remove      a tombstone; refused for a feed the config file declares (it would come back
                at the next start-up)
    pause       the record again with `paused`; `resume` with `paused` off and `unretire` on
    list        the records with each feed's cursor from the cursors topic

The owning instance applies a change as soon as it reads the record (`ownership.FeedOwnership`).
Every record is sent alone and acknowledged before the next (see `topics.read_partitions`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from daemon.cluster import codec
from daemon.cluster.topics import cursors_topic, feeds_topic, read_partitions
from daemon.dedup.keys import canonical_url
from daemon.errors import ConfigError
from daemon.records import FeedSpec
from daemon.settings import ClusterSettings, KafkaSettings
from daemon.sinks.kafka import client_options, translate
from daemon.sources.feedlist import FeedListing
from daemon.sources.feedstate import FeedState

log = structlog.get_logger(__name__)


class FeedTopic:
    """Reads and writes the feeds topic as a whole (commands and seeding, not the hot path)."""

    def __init__(self, kafka: KafkaSettings, cluster: ClusterSettings, bootstrap: str) -> None:
        self.kafka, self.cluster, self.bootstrap = kafka, cluster, bootstrap
        self.topic = feeds_topic(cluster)

    async def records(self) -> dict[str, codec.FeedRecord]:
        """Every feed on the topic now (tombstoned and undecodable ones left out)."""
        found, _ = await read_partitions(self.kafka, self.bootstrap, self.topic)
        latest: dict[str, codec.FeedRecord | None] = {}
        for record in found:
            if record.key is None:
                continue
            try:
                latest[record.key.decode("utf-8", "replace")] = codec.decode_feed(record.value)
            except ValueError as exc:
                log.warning("cluster.feed_skipped", offset=record.offset, error=str(exc))
        return {feed_id: r for feed_id, r in latest.items() if r is not None}

    async def write(self, feeds: dict[str, codec.FeedRecord | None]) -> None:
        """Send each record (None: a tombstone) and wait for its acknowledgement."""
        producer = AIOKafkaProducer(
            **client_options(self.kafka, self.bootstrap),
            acks="all",
            enable_idempotence=self.kafka.enable_idempotence,
            linger_ms=0,
        )
        try:
            await producer.start()
            for feed_id, record in feeds.items():
                value = None if record is None else codec.encode_feed(record)
                await producer.send_and_wait(self.topic, value, key=codec.key(feed_id))
        except KafkaError as exc:
            raise translate(exc) from exc
        finally:
            await producer.stop()

    async def cursors(self) -> dict[str, FeedState]:
        """Every feed's last published cursor state (for `feeds list`)."""
        found, _ = await read_partitions(self.kafka, self.bootstrap, cursors_topic(self.cluster))
        states: dict[str, FeedState] = {}
        for record in found:
            if record.key is not None and record.value is not None:
                try:
                    states[record.key.decode()] = codec.decode_cursor(record.value).state
                except ValueError as exc:
                    log.warning("cluster.cursor_skipped", offset=record.offset, error=str(exc))
        return states


async def seed(topic: FeedTopic, configured: Sequence[FeedSpec]) -> list[str]:
    """Write the configured feeds that the topic does not hold yet; returns their ids."""
    present = await topic.records()
    missing = {s.feed_id: codec.FeedRecord(s) for s in configured if s.feed_id not in present}
    if missing:
        await topic.write(dict(missing))
    log.info("cluster.seeded", written=len(missing), present=len(present))
    return list(missing)


async def add(topic: FeedTopic, spec: FeedSpec) -> None:
    """Add a feed; a known id or URL is a `ConfigError`."""
    for known in (await topic.records()).values():
        same_url = canonical_url(known.spec.url) == canonical_url(spec.url)
        if known.spec.feed_id == spec.feed_id or same_url:
            raise ConfigError("url", f"{spec.url} is already a feed (id {known.spec.feed_id})")
    await topic.write({spec.feed_id: codec.FeedRecord(spec)})


async def remove(topic: FeedTopic, feed_id: str, configured: Sequence[FeedSpec]) -> None:
    """Tombstone a run-time feed; config-file feeds and unknown ids are refused."""
    if feed_id in {s.feed_id for s in configured}:
        raise ConfigError("id", f"{feed_id} is declared in the config file: remove it there")
    await _known(topic, feed_id)
    await topic.write({feed_id: None})


async def set_paused(topic: FeedTopic, feed_id: str, paused: bool) -> None:
    """Pause a feed, or resume it (which also un-retires a feed retired by 410 Gone)."""
    record = await _known(topic, feed_id)
    changed = dataclasses.replace(record, paused=paused, unretire=not paused)
    await topic.write({feed_id: changed})


async def listing(topic: FeedTopic, configured: Sequence[FeedSpec]) -> list[FeedListing]:
    """One row per feed on the topic, with its state from the cursors topic."""
    records, states = await topic.records(), await topic.cursors()
    declared = {s.feed_id for s in configured}
    return [
        _row(r, states.get(f), "config" if f in declared else "cli") for f, r in records.items()
    ]


async def _known(topic: FeedTopic, feed_id: str) -> codec.FeedRecord:
    record = (await topic.records()).get(feed_id)
    if record is None:
        raise ConfigError("id", f"no feed with id {feed_id!r}")
    return record


def _row(record: codec.FeedRecord, state: FeedState | None, source: str) -> FeedListing:
    spec, state = record.spec, state or FeedState(record.spec.feed_id, record.spec.url)
    status = "paused" if record.paused else "retired" if state.retired else "active"
    return FeedListing(
        feed_id=spec.feed_id,
        url=spec.url,
        source=source,
        publisher=spec.publisher,
        state=status,
        tags=spec.tags,
        retired=state.retired,
        error_streak=state.error_streak,
        next_poll_at=state.next_poll_at,
        last_success_at=state.last_success_at,
        last_new_item_at=state.last_new_item_at,
        last_error=state.last_error,
        last_error_at=state.last_error_at,
    )
