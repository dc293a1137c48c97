"""Operating the real daemon: the ops endpoint, readiness through a broker freeze, supervision,
the state-directory lock, and a terminal Ctrl-C.

Each test runs `python -m daemon run` against a real local feed server and the real
Kafka-protocol test broker (or the daemon's own embedded broker), and looks at it the way an
operator would: `/metrics`, `/readyz`, exit codes, log lines, the topics.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from daemon.settings import load
from daemon.sinks.embedded import EmbeddedBroker, free_port
from daemon.sinks.kafka import topic_names
from tests.conftest import SEEDS
from tests.daemon_process import NewsdProcess, write_ops_config
from tests.httpserver import HttpServer, Reply
from tests.test_deploy_files import metric_families_used

SEED_FILES = sorted(SEEDS.glob("*.txt"))


class SeedFeed:
    """An RSS feed over the seed captures whose item list a test can grow while it runs."""

    def __init__(self, server: HttpServer, copies: int = 1, path: str = "/feed.xml") -> None:
        self.server, self.path = server, path
        self.items: list[str] = []  # paths of the pages the feed lists, in feed order
        for copy in range(copies):
            for seed in SEED_FILES:
                page = f"/seeds/{copy}/{seed.name}"
                server.route(
                    page,
                    Reply(
                        body=seed.read_bytes(),
                        headers={"Content-Type": "text/plain; charset=utf-8"},
                    ),
                )
        server.route(
            path,
            lambda hit: Reply(body=self.rss(), headers={"Content-Type": "application/rss+xml"}),
        )

    def add(self, *pages: str) -> None:
        self.items += pages

    def rss(self) -> bytes:
        items = "".join(
            f"<item><title>{page}</title><link>{self.server.url(page)}</link>"
            f'<guid isPermaLink="false">{page}</guid></item>'
            for page in self.items
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Seeds</title>'
            f"<link>{self.server.url('/')}</link><description>d</description>{items}</channel></rss>"
        ).encode()

    @property
    def url(self) -> str:
        return self.server.url(self.path)


@pytest.fixture
def feed_server() -> Iterator[HttpServer]:
    with HttpServer() as server:
        yield server


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def fast_polls() -> dict[str, dict[str, object]]:
    return {
        "poll": {
            "min_interval": 1.0,
            "default_interval": 1.0,
            "max_interval": 2.0,
            "tick": 0.2,
            "jitter": 0.0,
        }
    }


async def test_metrics_parse_and_match_the_events_in_kafka(
    tmp_path, broker, topic_prefix, feed_server, consume_topic
):
    """`/metrics` is valid Prometheus text; its published-event counters equal the events read
    back from Kafka; per-feed, queue, histogram and process series are there; every stderr line
    (dependencies included) is JSON."""
    feed = SeedFeed(feed_server)
    feed.add(*[f"/seeds/0/{p.name}" for p in SEED_FILES])
    config = write_ops_config(
        tmp_path / "newsd.toml",
        bootstrap=broker.bootstrap_servers,
        prefix=topic_prefix,
        feed_url=feed.url,
    )
    topics = topic_names(load(config).kafka.topics)
    async with NewsdProcess(
        "run", "--config", str(config), "--state", str(tmp_path / "state")
    ) as daemon:
        records = await consume_topic(
            broker.bootstrap_servers, topics["articles"], expect=5, timeout=90, settle=1.0
        )
        status, text = await daemon.get("/metrics")
        ready, body = await daemon.get("/readyz")
        alive, _ = await daemon.get("/healthz")
        daemon.signal_group(signal.SIGTERM)
        assert await daemon.wait_exit() == 0, daemon.stderr()[-3000:]
    assert len(records) == 5
    assert status == 200 and alive == 200 and ready == 200, body
    found = samples(text)
    assert found[("newsd_events_published_total", (("type", "article.new"),))] == len(records)
    key = (
        "newsd_records_total",
        (("outcome", "ok"), ("reason", "article.new"), ("stage", "publish")),
    )
    assert found[key] == len(records)
    assert found[("newsd_entry_to_ack_seconds_count", ())] == len(records)
    assert (
        found[("newsd_feed_last_success_timestamp_seconds", (("feed", "seeds"),))]
        > time.time() - 300
    )
    assert found[("newsd_feed_error_streak", (("feed", "seeds"),))] == 0
    assert found[("newsd_queue_depth", (("queue", "in_flight"),))] >= 0
    assert found[("newsd_ready", ())] == 1
    assert found[("process_resident_memory_bytes", ())] > 0
    assert found[("process_open_fds", ())] > 0
    assert any(
        name == "newsd_stage_seconds_count" and dict(labels)["stage"] == "extract"
        for name, labels in found
    )
    not_json = [line.text for line in daemon.lines if line.record is None]
    assert not not_json, not_json[:5]
    exported = {family.name for family in text_string_to_metric_families(text)}
    assert metric_families_used() <= exported, metric_families_used() - exported


async def test_readyz_turns_503_during_a_broker_freeze_and_back_with_nothing_lost(
    tmp_path, topic_prefix, feed_server, consume_topic
):
    """With the broker frozen (SIGSTOP), `/readyz` answers 503 with a JSON reason within
    request_timeout_ms + 5 s and `newsd health` reports the stalled publisher; after SIGCONT it
    answers 200 again and every article, those found during the freeze included, is in Kafka."""
    own = EmbeddedBroker("127.0.0.1", free_port())
    own.start_sync()
    try:
        feed = SeedFeed(feed_server)
        feed.add(*[f"/seeds/0/{p.name}" for p in SEED_FILES[:2]])
        config = write_ops_config(
            tmp_path / "newsd.toml",
            bootstrap=own.bootstrap_servers,
            prefix=topic_prefix,
            feed_url=feed.url,
            kafka={"request_timeout_ms": 3000},
            log={"stats_interval": 0.5},
            **fast_polls(),
        )
        state = tmp_path / "state"
        topics = topic_names(load(config).kafka.topics)
        async with NewsdProcess("run", "--config", str(config), "--state", str(state)) as daemon:
            first = await consume_topic(
                own.bootstrap_servers, topics["articles"], expect=2, timeout=90
            )
            assert len(first) == 2
            assert (await daemon.get("/readyz"))[0] == 200
            own.pause()
            frozen_at = time.monotonic()
            feed.add(*[f"/seeds/0/{p.name}" for p in SEED_FILES[2:]])
            status, body = await _poll_until(daemon, 503, timeout=20)
            took = time.monotonic() - frozen_at
            assert status == 503 and took <= 3 + 5, (took, body)
            assert json.loads(body)["reason"]
            stalled = await _health_until_stalled(config, state)
            own.resume()
            status, body = await _poll_until(daemon, 200, timeout=60)
            assert status == 200, body
            records = await consume_topic(
                own.bootstrap_servers, topics["articles"], expect=5, timeout=90, settle=1.0
            )
            daemon.signal_group(signal.SIGTERM)
            assert await daemon.wait_exit() == 0, daemon.stderr()[-3000:]
        assert "stalled" in stalled["reason"] or "not" in stalled["reason"], stalled
        urls = {json.loads(r.value)["url"] for r in records}
        assert urls == {feed_server.url(f"/seeds/0/{p.name}") for p in SEED_FILES}
    finally:
        own.resume()
        own.stop_sync()


async def _poll_until(daemon: NewsdProcess, want: int, *, timeout: float) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    status, body = await daemon.get("/readyz")
    while status != want and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        status, body = await daemon.get("/readyz")
    return status, body


async def _health_until_stalled(config: Path, state: Path) -> dict[str, object]:
    """`newsd health --max-age 2` during the freeze: unhealthy (exit 1) once the publisher has
    waited more than 2 s for an acknowledgement."""
    verdict: dict[str, object] = {}
    for _ in range(40):
        proc = await asyncio.create_subprocess_exec(
            *_newsd("health", "--config", str(config), "--state", str(state), "--max-age", "2"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        verdict = json.loads(out)
        if proc.returncode == 1:
            return verdict
        await asyncio.sleep(0.5)
    raise AssertionError(f"newsd health never reported the stalled publisher: {verdict}")


def _newsd(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "daemon", *args]


INJECT_BUG = """
import sys
from daemon import cli, pipeline

async def broken(self, item):
    raise RuntimeError("injected bug in the ack worker")

pipeline.Pipeline._acknowledge = broken
sys.exit(cli.main(sys.argv[1:]))
"""


async def test_a_worker_killed_by_a_bug_makes_the_daemon_exit_non_zero(
    tmp_path, broker, topic_prefix, feed_server
):
    """A bug outside the per-record guard kills a pipeline worker: it is logged with its
    traceback and the process exits 1 within seconds, instead of hanging."""
    feed = SeedFeed(feed_server)
    feed.add(f"/seeds/0/{SEED_FILES[0].name}")
    config = write_ops_config(
        tmp_path / "newsd.toml",
        bootstrap=broker.bootstrap_servers,
        prefix=topic_prefix,
        feed_url=feed.url,
    )
    args = ("run", "--config", str(config), "--state", str(tmp_path / "state"))
    async with NewsdProcess(*args, python=["-c", INJECT_BUG]) as daemon:
        died = await daemon.wait_event("pipeline.worker_died", timeout=90)
        died_at = next(line.at for line in daemon.lines if line.record is died)
        code = await daemon.wait_exit(timeout=30)
        exited_after = time.monotonic() - died_at
    assert code == 1, daemon.stderr()[-3000:]
    assert exited_after < 10
    assert "injected bug in the ack worker" in died["exception"]
    assert "Traceback" in died["exception"]
    said = [line.text for line in daemon.lines if line.text.startswith("newsd: worker_died")]
    assert said and "injected bug" in said[0]


async def test_a_second_daemon_on_the_same_state_refuses_naming_the_holder(
    tmp_path, broker, topic_prefix, feed_server
):
    """While one `newsd run` holds a state directory, a second `run` and a `replay` on it exit 1
    with one line naming the holder's pid."""
    feed = SeedFeed(feed_server)
    config = write_ops_config(
        tmp_path / "newsd.toml",
        bootstrap=broker.bootstrap_servers,
        prefix=topic_prefix,
        feed_url=feed.url,
    )
    state = str(tmp_path / "state")
    async with NewsdProcess("run", "--config", str(config), "--state", state) as first:
        await first.wait_event("daemon.started")
        for args in (("run", "--once"), ("replay", str(SEEDS))):
            proc = await asyncio.create_subprocess_exec(
                *_newsd(*args, "--config", str(config), "--state", state),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 1, err.decode()[-2000:]
            message = err.decode().strip().splitlines()[-1]
            assert f"pid {first.pid}" in message and "in use" in message
            assert "Traceback" not in err.decode()
        first.signal_group(signal.SIGTERM)
        assert await first.wait_exit() == 0


async def test_ctrl_c_to_the_process_group_drains_and_stops_the_embedded_broker_last(
    tmp_path, topic_prefix, feed_server
):
    """SIGINT to the whole process group (a terminal's Ctrl-C) during busy ingest: newsd drains,
    stops the embedded broker after everything else, exits 0, and logs no error line."""
    feed = SeedFeed(feed_server, copies=8)
    feed.add(*[f"/seeds/{c}/{p.name}" for c in range(8) for p in SEED_FILES])
    port = free_port()
    config = write_ops_config(
        tmp_path / "newsd.toml",
        bootstrap=None,
        prefix=topic_prefix,
        feed_url=feed.url,
        embedded_broker={"port": port},
        pipeline={"shutdown_grace": 20.0},
    )
    async with NewsdProcess(
        "run", "--config", str(config), "--state", str(tmp_path / "state")
    ) as daemon:
        await daemon.wait_event("daemon.started", timeout=90)
        await _until(lambda: len(feed_server.hits()) > 10, timeout=60)
        daemon.signal_group(signal.SIGINT)
        code = await daemon.wait_exit(timeout=60)
    assert code == 0, daemon.stderr()[-3000:]
    events = [r["event"] for r in daemon.events()]
    assert events.index("daemon.stopping") < events.index("daemon.summary")
    assert events[-1] == "broker.embedded.stopped", events[-5:]
    assert not [line.text for line in daemon.lines if line.record is None]
    errors = [r for r in daemon.events() if r.get("level") in ("error", "critical")]
    assert not errors, json.dumps(errors[:2], indent=1)[:4000]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


async def _until(condition, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_sighup_reloads_the_feed_list_and_names_what_needs_a_restart(
    tmp_path, broker, topic_prefix, feed_server, consume_topic
):
    """SIGHUP re-reads the config: a config that does not load is logged and ignored; a feed
    added to it is polled and published from, and the log says which settings changed and
    which need a restart."""
    feed = SeedFeed(feed_server)
    feed.add(f"/seeds/0/{SEED_FILES[0].name}")
    SeedFeed(feed_server, path="/second.xml").add(f"/seeds/0/{SEED_FILES[1].name}")
    config = write_ops_config(
        tmp_path / "newsd.toml",
        bootstrap=broker.bootstrap_servers,
        prefix=topic_prefix,
        feed_url=feed.url,
    )
    topics = topic_names(load(config).kafka.topics)
    args = ("run", "--config", str(config), "--state", str(tmp_path / "state"))
    async with NewsdProcess(*args) as daemon:
        first = await consume_topic(
            broker.bootstrap_servers, topics["articles"], expect=1, timeout=90
        )
        assert len(first) == 1, daemon.stderr()[-3000:]
        good = config.read_text()
        config.write_text(good + "[log\n")
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGHUP)
        failed = await daemon.wait_event("config.reload_failed", timeout=30)
        text = good.replace("linger_ms = 0", "linger_ms = 7")
        text += f'[[feeds]]\nid = "second"\nurl = "{feed_server.url("/second.xml")}"\n'
        config.write_text(text)
        daemon.proc.send_signal(signal.SIGHUP)
        reloaded = await daemon.wait_event("config.reloaded", timeout=30)
        both = await consume_topic(
            broker.bootstrap_servers, topics["articles"], expect=2, timeout=90
        )
        daemon.signal_group(signal.SIGTERM)
        assert await daemon.wait_exit() == 0, daemon.stderr()[-3000:]
    assert "newsd.toml" in failed["error"]
    assert reloaded["changed"] == ["feeds"] and reloaded["needs_restart"] == ["kafka.linger_ms"]
    assert reloaded["feeds"] == 2
    assert {json.loads(r.value)["url"] for r in both} == {
        feed_server.url(f"/seeds/0/{p.name}") for p in SEED_FILES[:2]
    }


async def test_run_once_that_cannot_drain_in_time_exits_1(
    tmp_path, broker, topic_prefix, feed_server
):
    """`run --once` waits at most `pipeline.once_timeout` for the pipeline to drain; when a
    page is still being fetched then, it says so and exits 1 instead of waiting forever."""
    feed = SeedFeed(feed_server)
    feed.add("/slow.html")
    feed_server.route("/slow.html", Reply(body=b"<html></html>", delay=20.0))
    config = write_ops_config(
        tmp_path / "newsd.toml",
        bootstrap=broker.bootstrap_servers,
        prefix=topic_prefix,
        feed_url=feed.url,
        pipeline={"once_timeout": 1.0},
    )
    args = ("run", "--once", "--config", str(config), "--state", str(tmp_path / "state"))
    async with NewsdProcess(*args) as daemon:
        await daemon.wait_event("daemon.started", timeout=90)
        started_at = time.monotonic()
        code = await daemon.wait_exit(timeout=60)
        took = time.monotonic() - started_at
    assert code == 1, daemon.stderr()[-3000:]
    assert daemon.events("daemon.drain_timeout")[0]["timeout_s"] == 1.0
    assert took < 15, "it waited for the slow page (20 s) instead of giving up"
