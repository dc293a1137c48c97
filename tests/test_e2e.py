"""End to end: the real daemon process, a real local HTTP server, the real test broker.

The seed captures are served as an RSS feed whose items link to the captures on 127.0.0.1
(served as they are, text/plain); `newsd run --once` ingests them.  Replays of the seeds and of
the daemon's own WARC archive go through the same stages and give the same event ids.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import jsonschema
import pytest

from daemon.settings import Settings
from daemon.sinks.kafka import topic_names
from tests.conftest import REPO, SEEDS
from tests.httpserver import HttpServer, Reply

SCHEMA = json.loads((REPO / "schemas" / "article-event.v1.json").read_text())
CE_HEADERS = {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"}


def seed_files() -> list[Path]:
    return sorted(SEEDS.glob("*.txt"))


def rss_for(server: HttpServer) -> bytes:
    items = []
    for index, path in enumerate(seed_files()):
        published = format_datetime(datetime(2022, 9, 10 + index, 12, tzinfo=UTC))
        items.append(
            f"<item><title>Seed {index}</title>"
            f"<link>{escape(server.url('/seeds/' + path.name))}</link>"
            f'<guid isPermaLink="false">seed-{path.stem}</guid>'
            f"<pubDate>{published}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Seeds</title>'
        f"<link>{server.url('/')}</link><description>seed captures</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


@pytest.fixture
def seeds_server() -> Iterator[HttpServer]:
    """The seeds as an RSS feed plus the captures themselves, on 127.0.0.1."""
    with HttpServer() as server:
        server.route(
            "/feed.xml",
            Reply(body=rss_for(server), headers={"Content-Type": "application/rss+xml"}),
        )
        for path in seed_files():
            plain = {"Content-Type": "text/plain; charset=utf-8"}
            server.route(f"/seeds/{path.name}", Reply(body=path.read_bytes(), headers=plain))
        yield server


def write_config(tmp_path: Path, settings: Settings, feed_url: str, **extra: str) -> Path:
    topics = settings.kafka.topics
    lines = [
        "[kafka]",
        f'bootstrap_servers = "{settings.kafka.bootstrap_servers}"',
        "enable_idempotence = false",
        "linger_ms = 0",
        "[kafka.topics]",
        f'prefix = "{topics.prefix}"',
        "partitions = 3",
        "[fetch]",
        'allow_private_networks = ["127.0.0.1/32"]',
        "per_domain_min_interval = 0",
        "[extract]",
        "workers = 1",
        *[f"{k} = {v}" for k, v in extra.items()],
        "[[feeds]]",
        'id = "seeds"',
        f'url = "{feed_url}"',
        'publisher = "Seed captures"',
    ]
    path = tmp_path / "newsd.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def newsd(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSD_LOG__FORMAT": "json", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def check_event(record) -> dict:
    event = json.loads(record.value)
    jsonschema.validate(event, SCHEMA)
    assert event["title"] and event["text"].strip()
    headers = {key: value.decode() for key, value in record.headers}
    assert set(headers) >= CE_HEADERS
    assert headers["ce_id"] == event["event_id"]
    assert headers["ce_type"] == f"io.newsd.{event['type']}.v1"
    assert record.key.decode() == event["cluster_id"]
    return event


async def test_run_once_ingests_the_seeds_feed_exactly_once(
    tmp_path, kafka_settings, seeds_server, consume_topic
):
    """Five seed captures → five valid article.new events with CloudEvents headers; a second
    --once run with the same state publishes nothing more."""
    config = write_config(tmp_path, kafka_settings, seeds_server.url("/feed.xml"))
    state = tmp_path / "state"
    first = newsd("run", "--once", "--config", str(config), "--state", str(state))
    assert first.returncode == 0, first.stderr[-3000:]
    topics = topic_names(kafka_settings.kafka.topics)
    boot = kafka_settings.kafka.bootstrap_servers
    records = await consume_topic(boot, topics["articles"], expect=5, settle=1.0)
    events = [check_event(r) for r in records]
    assert len(events) == 5
    assert {e["type"] for e in events} == {"article.new"}
    assert {e["url"] for e in events} == {
        seeds_server.url(f"/seeds/{p.name}") for p in seed_files()
    }
    assert len({e["event_id"] for e in events}) == 5

    second = newsd("run", "--once", "--config", str(config), "--state", str(state))
    assert second.returncode == 0, second.stderr[-3000:]
    for channel in ("articles", "duplicates", "updates"):
        again = await consume_topic(boot, topics[channel], expect=6, timeout=3.0)
        assert len(again) == (5 if channel == "articles" else 0), channel


async def test_replay_of_seeds_publishes_five_articles(tmp_path, kafka_settings, consume_topic):
    """`newsd replay seeds/` sends the five captures through the pipeline to Kafka."""
    config = write_config(tmp_path, kafka_settings, "http://127.0.0.1:9/unused.xml")
    result = newsd("replay", "seeds", "--config", str(config), "--state", str(tmp_path / "state"))
    assert result.returncode == 0, result.stderr[-3000:]
    topics = topic_names(kafka_settings.kafka.topics)
    records = await consume_topic(
        kafka_settings.kafka.bootstrap_servers, topics["articles"], expect=5, settle=1.0
    )
    events = [check_event(r) for r in records]
    assert len(events) == 5 and all(e["feed"]["kind"] == "replay" for e in events)
    assert all(dict(r.headers).get("newsd_replay", b"").startswith(b"replay-") for r in records)
    summary = json.loads(result.stdout)
    assert summary["read"] == 5 and summary["emitted"] == {"article.new": 5}

    tail = newsd("tail", "articles", "--from-beginning", "--max", "5", "--config", str(config))
    assert tail.returncode == 0, tail.stderr[-2000:]
    shown = [json.loads(line) for line in tail.stdout.splitlines()]
    assert len(shown) == 5 and all(
        line["type"] == "article.new" and line["title"] for line in shown
    )


def jsonl_ids(path: Path) -> list[tuple[str, str]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    articles = [line for line in lines if line["channel"] != "stories"]
    return sorted((line["event"]["event_id"], line["event"]["text"]) for line in articles)


def test_replay_twice_with_fresh_state_gives_identical_events(tmp_path):
    """Determinism: the same archive replayed twice with fresh state gives identical ids and
    payloads, from another working directory too (ids do not depend on the checkout path)."""
    copy = tmp_path / "elsewhere" / "seeds"
    copy.mkdir(parents=True)
    for path in seed_files():
        (copy / path.name).write_bytes(path.read_bytes())
    out_a, out_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    env = {"NEWSD_EXTRACT__WORKERS": "1"}
    a = newsd("replay", "seeds", "--fresh-state", "--sink", f"jsonl:{out_a}", env=env)
    b = newsd(
        "replay", str(copy), "--fresh-state", "--sink", f"jsonl:{out_b}", cwd=tmp_path, env=env
    )
    assert a.returncode == 0 and b.returncode == 0, (a.stderr[-2000:], b.stderr[-2000:])
    assert len(jsonl_ids(out_a)) == 5
    assert jsonl_ids(out_a) == jsonl_ids(out_b)


async def test_replaying_the_live_archive_gives_the_live_event_ids(
    tmp_path, kafka_settings, seeds_server, consume_topic
):
    """A live run with the archive on, then a replay of its WARC files with fresh state,
    publishes the same event ids the live run published."""
    archive = tmp_path / "archive"
    config = write_config(
        tmp_path,
        kafka_settings,
        seeds_server.url("/feed.xml"),
    )
    text = config.read_text().replace(
        "[[feeds]]", f'[archive]\nenabled = true\ndir = "{archive}"\n[[feeds]]'
    )
    config.write_text(text)
    live = newsd("run", "--once", "--config", str(config), "--state", str(tmp_path / "state"))
    assert live.returncode == 0, live.stderr[-3000:]
    warcs = sorted(archive.glob("*.warc.gz"))
    assert warcs, "the live run wrote no WARC file"
    topics = topic_names(kafka_settings.kafka.topics)
    records = await consume_topic(
        kafka_settings.kafka.bootstrap_servers, topics["articles"], expect=5, settle=0.5
    )
    live_ids = sorted(json.loads(r.value)["event_id"] for r in records)
    out = tmp_path / "replayed.jsonl"
    replayed = newsd("replay", *map(str, warcs), "--fresh-state", "--sink", f"jsonl:{out}")
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    replay_ids = sorted(event_id for event_id, _ in jsonl_ids(out))
    assert len(live_ids) == 5
    assert replay_ids == live_ids


def unreachable_copy(config: Path, dest: Path, port: int) -> tuple[Path, int]:
    """The shipped config with every feed URL moved to a loopback port that refuses connections,
    so the test reaches no publisher whatever network the machine has.  Returns (path, feeds)."""
    moved = re.subn(
        r'^url = "https?://([^"]+)"$',
        rf'url = "http://127.0.0.1:{port}/\1"',
        config.read_text(),
        flags=re.MULTILINE,
    )
    dest.write_text(moved[0])
    return dest, moved[1]


def test_default_config_runs_on_the_embedded_broker_and_counts_unreachable_feeds(tmp_path):
    """With the shipped config and no Kafka address, `newsd run --once` starts the embedded
    broker (and says so), counts every unreachable feed as an error instead of dying, and stops
    the broker on exit."""
    import socket

    from daemon.sinks.embedded import free_port

    port = free_port()
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        config, feeds = unreachable_copy(
            REPO / "config" / "newsd.toml", tmp_path / "newsd.toml", closed.getsockname()[1]
        )
        assert feeds >= 5
        env = {
            "NEWSD_EMBEDDED_BROKER__PORT": str(port),
            "NEWSD_FETCH__ALLOW_PRIVATE_NETWORKS": '["127.0.0.1/32"]',
            "NEWSD_FETCH__TIMEOUT__CONNECT": "2",
            "NEWSD_FETCH__TIMEOUT__TOTAL": "5",
            "NEWSD_FETCH__RETRIES": "0",
            "NEWSD_OPS__ADDRESS": "127.0.0.1:0",
        }
        env_no_kafka = {k: v for k, v in os.environ.items() if not k.startswith("NEWSD_")}
        state = tmp_path / "state"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "daemon",
                "run",
                "--once",
                "--config",
                str(config),
                "--state",
                state,
            ],
            cwd=REPO,
            env={**env_no_kafka, "PYTHONPATH": str(REPO), "NEWSD_LOG__FORMAT": "json", **env},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    started = [e for e in logs if e["event"] == "broker.embedded"]
    assert started and started[0]["bootstrap_servers"] == f"127.0.0.1:{port}"
    summary = next(e for e in logs if e["event"] == "daemon.summary")
    errors = sum(v for k, v in summary.items() if k.startswith("poll_") and "error" in k)
    assert errors == feeds
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


async def test_run_publishes_then_stops_politely_on_sigterm(
    tmp_path, kafka_settings, seeds_server, consume_topic
):
    """`newsd run` (no --once) publishes the feed's articles, and on SIGTERM stops intake,
    drains, flushes and exits 0 with a summary line."""
    import asyncio
    import signal

    config = write_config(tmp_path, kafka_settings, seeds_server.url("/feed.xml"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSD_LOG__FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "daemon",
        "run",
        "--config",
        str(config),
        "--state",
        str(tmp_path / "state"),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        topics = topic_names(kafka_settings.kafka.topics)
        records = await consume_topic(
            kafka_settings.kafka.bootstrap_servers, topics["articles"], expect=5, timeout=60
        )
        assert len(records) == 5
        alive = newsd("health", "--config", str(config), "--state", str(tmp_path / "state"))
        assert alive.returncode == 0, alive.stdout + alive.stderr[-2000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()[-3000:]
    events = [
        json.loads(line)["event"] for line in stderr.decode().splitlines() if line.startswith("{")
    ]
    assert events.index("daemon.stopping") < events.index("daemon.summary")


def test_embedded_broker_port_in_use_is_a_clear_error(tmp_path):
    """When the embedded broker's port is taken, `newsd run` says so and exits 1 at once."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSD_")}
        env |= {"PYTHONPATH": str(REPO), "NEWSD_EMBEDDED_BROKER__PORT": str(port)}
        result = subprocess.run(
            [sys.executable, "-m", "daemon", "run", "--once", "--state", str(tmp_path / "s")],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{port} is in use" in result.stderr
