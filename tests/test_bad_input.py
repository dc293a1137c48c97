"""README promises kept under bad input, against the real daemon process, a local HTTP server
and the real test broker."""

from __future__ import annotations

import json
import signal
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from daemon.settings import Settings
from daemon.sinks.kafka import topic_names
from tests.daemon_process import HTML, RSS, DaemonProcess, article_text, rss, write_config
from tests.httpserver import HttpServer, Reply
from tests.test_stop_and_crash import FAST_POLL


async def read(settings: Settings, consume: Any, channel: str, expect: int) -> list[Any]:
    topic = topic_names(settings.kafka.topics)[channel]
    boot = settings.kafka.bootstrap_servers
    assert boot is not None
    records = await consume(boot, topic, expect=expect, timeout=90, settle=1.0)
    return [json.loads(r.value) for r in records]


def big_page(title: str, paragraphs: list[str], *, one_block: bool) -> bytes:
    body = (
        f"<p>{' '.join(paragraphs)}</p>"
        if one_block
        else "".join(f"<p>{p}</p>" for p in paragraphs)
    )
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"{body}</article></body></html>"
    ).encode()


async def test_an_article_over_the_broker_limit_is_published_truncated_or_as_an_error_once(
    tmp_path, kafka_settings, consume_topic
):
    """Pages of 1.4 MB of text against a topic whose max.message.bytes is 200,000: the one
    with paragraphs is published cut at a paragraph boundary (`text_truncated`, original
    length), the one without is a `too_large` error; each page is fetched once, not on every
    poll, and nothing is left to redo."""
    topics = topic_names(kafka_settings.kafka.topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.kafka.bootstrap_servers)
    await admin.start()
    try:
        config = {"max.message.bytes": "200000"}
        await admin.create_topics([NewTopic(topics["articles"], 3, 1, topic_configs=config)])
    finally:
        await admin.close()
    paragraphs = [" ".join(article_text(n, 1)[0] for _ in range(15)) for n in range(300)]
    with HttpServer() as server:
        links = [("long", server.url("/long")), ("wall", server.url("/wall"))]
        server.route("/feed.xml", Reply(body=rss(links), headers=RSS))
        server.route(
            "/long", Reply(body=big_page("Long", paragraphs, one_block=False), headers=HTML)
        )
        server.route(
            "/wall", Reply(body=big_page("Wall", paragraphs, one_block=True), headers=HTML)
        )
        config_path = write_config(
            tmp_path, kafka_settings, server.url("/feed.xml"), poll=FAST_POLL
        )
        async with DaemonProcess(config_path, tmp_path / "state") as daemon:
            articles = await read(kafka_settings, consume_topic, "articles", 1)
            errors = await read(kafka_settings, consume_topic, "errors", 1)
            polls = len(server.hits("/feed.xml"))
            await daemon.wait_until(lambda: len(server.hits("/feed.xml")) >= polls + 4)
            daemon.signal(signal.SIGTERM)
            assert await daemon.wait(30) == 0, daemon.tail()
        hits = {path: len(server.hits(path)) for path in ("/long", "/wall")}
    full = "\n".join(paragraphs)
    assert len(articles) == 1 and articles[0]["text_truncated"] is True
    assert articles[0]["text_original_length"] == len(full)
    assert full.startswith(articles[0]["text"] + "\n")
    assert [(e["url"], e["reason"]) for e in errors] == [(server.url("/wall"), "too_large")]
    assert hits == {"/long": 1, "/wall": 1}
