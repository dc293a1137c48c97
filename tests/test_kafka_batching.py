"""Producer batching: several article events per batch, never a batch a topic would refuse."""

from __future__ import annotations

import asyncio

from daemon.settings import Settings
from daemon.sinks.base import OutMessage
from daemon.sinks.kafka import KafkaSink, batch_size, topic_names
from tests.conftest import consume


def test_the_batch_size_is_capped_by_the_smallest_topic_limit() -> None:
    """`batch_bytes` applies unless a topic accepts less; then that topic's limit does."""
    assert batch_size(262_144, {"articles": 1_048_576, "errors": 1_048_576}) == 262_144
    assert batch_size(262_144, {"articles": 1_048_576, "errors": 100_000}) == 100_000


def test_the_default_batch_holds_several_article_events(kafka_settings: Settings) -> None:
    """The default batch is larger than aiokafka's 16 KiB, which held one event at most."""
    assert kafka_settings.kafka.batch_bytes >= 8 * 30_000


async def test_a_burst_of_large_events_is_delivered_whole_and_in_order(
    kafka_settings: Settings,
) -> None:
    """Events sent together with a linger are batched and all acknowledged, each intact and
    in send order within its key, on the real test broker."""
    settings = kafka_settings.kafka.model_copy(update={"linger_ms": 50})
    bootstrap = settings.bootstrap_servers
    assert bootstrap is not None
    sink = KafkaSink(settings, bootstrap)
    await sink.start()
    values = [f"{i:03d}".encode() + bytes([65 + i]) * 40_000 for i in range(12)]
    try:
        sent = [await sink.send(OutMessage("articles", b"k", v, ())) for v in values]
        await asyncio.wait_for(asyncio.gather(*sent), 30)
    finally:
        await sink.close()
    topic = topic_names(settings.topics)["articles"]
    records = await consume(bootstrap, topic, expect=len(values), settle=0.5)
    assert [r.value for r in records] == values
