"""README promises kept under bad input, against the real daemon process, a local HTTP server
and the real test broker."""

from __future__ import annotations

import json
import signal
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from daemon.settings import Settings
from daemon.sinks.kafka import topic_names
from tests.daemon_process import (
    HTML,
    RSS,
    DaemonProcess,
    article_text,
    rss,
    run_once,
    summary,
    write_config,
)
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
    full = "\n\n".join(paragraphs)  # events separate paragraphs with a blank line
    assert len(articles) == 1 and articles[0]["text_truncated"] is True
    assert articles[0]["text_original_length"] == len(full)
    assert full.startswith(articles[0]["text"] + "\n\n")
    assert [(e["url"], e["reason"]) for e in errors] == [(server.url("/wall"), "too_large")]
    assert hits == {"/long": 1, "/wall": 1}


def feed_with(server: HttpServer, items: list[tuple[str, str, str]]) -> bytes:
    """RSS items of (guid, path, extra item XML)."""
    parts = [
        f"<item><title>{guid}</title><link>{server.url(path)}</link>"
        f'<guid isPermaLink="false">{guid}</guid>{extra}</item>'
        for guid, path, extra in items
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<link>http://127.0.0.1/</link><description>t</description>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


async def test_a_missing_page_publishes_the_feeds_own_content(
    tmp_path, kafka_settings, consume_topic
):
    """An article link answering 404 whose feed item carries a description is published from
    that description (`extraction: feed_content`), as for a 403; without one it is an error."""
    description, other = " ".join(article_text(7, 2)), " ".join(article_text(8, 2))
    with HttpServer() as server:
        items = [
            ("missing", "/missing", f"<description>{description}</description>"),
            ("forbidden", "/forbidden", f"<description>{other}</description>"),
            ("bare", "/bare", ""),
        ]
        server.route("/feed.xml", Reply(body=feed_with(server, items), headers=RSS))
        server.route("/forbidden", Reply(status=403))
        config = write_config(tmp_path, kafka_settings, server.url("/feed.xml"))
        run_once(config, tmp_path / "state")
    articles = await read(kafka_settings, consume_topic, "articles", 2)
    errors = await read(kafka_settings, consume_topic, "errors", 1)
    by_guid = {e["guid"]: e for e in articles}
    assert set(by_guid) == {"missing", "forbidden"}
    assert by_guid["missing"]["extraction"] == "feed_content"
    assert by_guid["missing"]["text"] == description
    assert [(e["url"], e["reason"]) for e in errors] == [(server.url("/bare"), "not_found")]


async def test_a_plain_text_page_is_read_in_its_declared_charset(
    tmp_path, kafka_settings, consume_topic
):
    """A plain-text capture served as `text/plain; charset=windows-1251` is published with its
    text intact (no replacement characters)."""
    title = "Москва готовится к зимнему сезону"
    paragraphs = [
        "Городские службы начали подготовку улиц и дворов к снегопадам уже в октябре, "
        "сообщили в мэрии во вторник утром.",
        "По словам чиновников, в этом году закуплено больше техники и реагентов, чем "
        "когда-либо прежде, а бригады будут работать круглосуточно.",
        "Жители могут сообщать о проблемах через городской портал и мобильное приложение, "
        "где заявки рассматриваются в течение суток.",
    ]
    capture = title + "\n\n" + "\n\n".join(paragraphs) + "\n"
    with HttpServer() as server:
        server.route(
            "/feed.xml", Reply(body=feed_with(server, [("ru", "/ru.txt", "")]), headers=RSS)
        )
        plain = {"Content-Type": "text/plain; charset=windows-1251"}
        server.route("/ru.txt", Reply(body=capture.encode("windows-1251"), headers=plain))
        config = write_config(tmp_path, kafka_settings, server.url("/feed.xml"))
        run_once(config, tmp_path / "state")
    [event] = await read(kafka_settings, consume_topic, "articles", 1)
    assert "\ufffd" not in event["text"]
    assert all(p in event["text"] for p in paragraphs)
    assert event["title"] == title


async def test_absurd_dates_are_dropped_and_counted(tmp_path, kafka_settings, consume_topic):
    """A published date in 2999 and one with a negative year are published as null, never
    as given or as an invented 2000-01-01, and every drop is counted."""
    dated = {
        "future": '<meta property="article:published_time" content="2999-01-01T00:00:00Z">',
        "negative": '<meta property="article:published_time" content="-2000-01-01">',
        "fine": '<meta property="article:published_time" content="2024-05-06T07:08:09Z">',
    }
    with HttpServer() as server:
        items = [(name, f"/{name}", "") for name in dated]
        server.route("/feed.xml", Reply(body=feed_with(server, items), headers=RSS))
        for n, (name, meta) in enumerate(dated.items()):
            body = "".join(f"<p>{p}</p>" for p in article_text(100 + n))
            page = f"<html><head>{meta}</head><body><article>{body}</article></body></html>"
            server.route(f"/{name}", Reply(body=page.encode(), headers=HTML))
        config = write_config(tmp_path, kafka_settings, server.url("/feed.xml"))
        logs = run_once(config, tmp_path / "state")
    articles = await read(kafka_settings, consume_topic, "articles", 3)
    published = {e["guid"]: e["published_at"] for e in articles}
    assert published == {"future": None, "negative": None, "fine": "2024-05-06T07:08:09Z"}
    assert summary(logs)["extract_date_dropped_published_at"] == 2


async def test_a_broken_xml_feed_without_items_is_an_error_not_an_empty_poll(
    tmp_path, kafka_settings
):
    """A truncated XML document with no usable item is counted as an `unparseable` poll
    error (with backoff), not as a successful poll with 0 entries."""
    broken = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>a'
    with HttpServer() as server:
        server.route("/feed.xml", Reply(body=broken, headers=RSS))
        config = write_config(tmp_path, kafka_settings, server.url("/feed.xml"))
        logs = run_once(config, tmp_path / "state")
    counts = summary(logs)
    assert counts.get("poll_error_unparseable") == 1
    assert "poll_ok" not in counts
    [error] = [e for e in logs if e["event"] == "feed.error"]
    assert error["reason"] == "unparseable" and error["streak"] == 1
