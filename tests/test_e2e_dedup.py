"""End to end through the real daemon: reposts across feeds and updated articles.

A wire story republished by a second site (other chrome, new headline, wire credit) becomes an
`article.duplicate` linked to the original; a corrected article at the same URL becomes one
`article.updated`, and an unchanged re-fetch emits nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from daemon.sinks.kafka import topic_names
from tests.conftest import SEEDS
from tests.httpserver import HttpServer, Reply
from tests.test_e2e import newsd

PLAIN = {"Content-Type": "text/plain; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml"}


def rss(items: list[tuple[str, str, datetime]]) -> bytes:
    body = "".join(
        f"<item><title>t</title><link>{link}</link><guid>{guid}</guid>"
        f"<pubDate>{format_datetime(when)}</pubDate></item>"
        for guid, link, when in items
    )
    return f'<rss version="2.0"><channel><title>f</title>{body}</channel></rss>'.encode()


def config(path: Path, kafka_settings, feeds: dict[str, str]) -> Path:
    lines = [
        "[kafka]",
        f'bootstrap_servers = "{kafka_settings.kafka.bootstrap_servers}"',
        "enable_idempotence = false",
        "linger_ms = 0",
        "[kafka.topics]",
        f'prefix = "{kafka_settings.kafka.topics.prefix}"',
        "[fetch]",
        'allow_private_networks = ["127.0.0.1/32"]',
        "per_domain_min_interval = 0",
        "[extract]",
        "workers = 1",
    ]
    for feed_id, url in feeds.items():
        lines += ["[[feeds]]", f'id = "{feed_id}"', f'url = "{url}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def repost_of(original: str) -> str:
    """The same wire story on another site: new chrome, a new headline, a credit line."""
    lines = original.splitlines()
    body = [line for line in lines[5:] if line.strip() and "Leave a Reply" not in line]
    return "\n\n".join(
        [
            "Menu",
            "World News Today",
            "US says Russian forces are leaving Ukraine's northeast",
            "By EFE",
            *body,
            "Share this:",
            "Related posts",
            "© 2022 World News Today",
        ]
    )


async def test_a_repost_on_another_feed_is_linked_to_the_original(
    tmp_path, kafka_settings, consume_topic
):
    """The second site's copy is an article.duplicate pointing at the first site's event."""
    original = (SEEDS / "000_24d017f70a831444.txt").read_text()
    when = datetime(2022, 9, 13, 12, tzinfo=UTC)
    with HttpServer() as server:
        server.route("/a/story.txt", Reply(body=original.encode(), headers=PLAIN))
        server.route("/b/copy.txt", Reply(body=repost_of(original).encode(), headers=PLAIN))
        server.route(
            "/a.xml", Reply(body=rss([("a1", server.url("/a/story.txt"), when)]), headers=RSS)
        )
        server.route(
            "/b.xml", Reply(body=rss([("b1", server.url("/b/copy.txt"), when)]), headers=RSS)
        )
        feeds = {"site-a": server.url("/a.xml")}
        first = config(tmp_path / "first.toml", kafka_settings, feeds)
        feeds["site-b"] = server.url("/b.xml")
        both = config(tmp_path / "both.toml", kafka_settings, feeds)
        state = str(tmp_path / "state")
        assert newsd("run", "--once", "--config", str(first), "--state", state).returncode == 0
        result = newsd("run", "--once", "--config", str(both), "--state", state)
        assert result.returncode == 0, result.stderr[-3000:]
    topics = topic_names(kafka_settings.kafka.topics)
    boot = kafka_settings.kafka.bootstrap_servers
    originals = await consume_topic(boot, topics["articles"], expect=1, settle=0.5)
    reposts = await consume_topic(boot, topics["duplicates"], expect=1, settle=0.5)
    assert len(originals) == 1 and len(reposts) == 1
    new, dup = json.loads(originals[0].value), json.loads(reposts[0].value)
    assert dup["duplicate_of"] == new["event_id"] == dup["cluster_id"]
    assert dup["similarity"] >= 0.5 and dup["cluster_size"] == 2
    assert dup["syndication"] == new["syndication"] == "EFE"
    assert reposts[0].key == originals[0].key


async def test_a_corrected_article_is_one_update_then_silence(
    tmp_path, kafka_settings, consume_topic
):
    """Changed text at the same URL → one article.updated (revision 2); a re-fetch of the same
    text → nothing."""
    text = (SEEDS / "004_1e060974a0c13fb7.txt").read_text()
    corrected = text.replace("80 kilometers southwest", "40 kilometers north-west").replace(
        "1.4 million", "1.5 million"
    )
    t1, t2 = datetime(2022, 5, 14, 8, tzinfo=UTC), datetime(2022, 5, 14, 10, tzinfo=UTC)
    with HttpServer() as server:
        page = server.url("/story.txt")
        server.route("/story.txt", Reply(body=text.encode(), headers=PLAIN))
        server.route("/feed.xml", Reply(body=rss([("s1", page, t1)]), headers=RSS))
        cfg = config(tmp_path / "newsd.toml", kafka_settings, {"site": server.url("/feed.xml")})
        state = str(tmp_path / "state")
        assert newsd("run", "--once", "--config", str(cfg), "--state", state).returncode == 0
        server.route("/story.txt", Reply(body=corrected.encode(), headers=PLAIN))
        server.route("/feed.xml", Reply(body=rss([("s1", page, t2)]), headers=RSS))
        assert newsd("run", "--once", "--config", str(cfg), "--state", state).returncode == 0
        assert newsd("run", "--once", "--config", str(cfg), "--state", state).returncode == 0
    topics = topic_names(kafka_settings.kafka.topics)
    boot = kafka_settings.kafka.bootstrap_servers
    updates = await consume_topic(boot, topics["updates"], expect=2, timeout=4)
    originals = await consume_topic(boot, topics["articles"], expect=2, timeout=3)
    assert len(originals) == 1 and len(updates) == 1
    update = json.loads(updates[0].value)
    assert (
        update["revision"] == 2
        and update["cluster_id"] == json.loads(originals[0].value)["event_id"]
    )
    assert "40 kilometers north-west" in update["text"]
