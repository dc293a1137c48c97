"""Crashes and stops of the real daemon lose nothing: the real process, a local HTTP server whose
pages answer slowly, the real test broker and the SQLite state in a temporary directory."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import pytest

from daemon.settings import Settings
from daemon.sinks.kafka import topic_names
from tests.daemon_process import HTML, RSS, DaemonProcess, article_page, rss, write_config
from tests.httpserver import HttpServer, Reply

# Polls every half second, so a second poll runs while the first one's items are in flight.
FAST_POLL = {
    "min_interval": 0.5,
    "default_interval": 0.5,
    "max_interval": 1.0,
    "tick": 0.2,
    "jitter": 0.0,
}
HANG = 90.0  # seconds a slow page takes: longer than any test waits for it


def serve_pages(server: HttpServer, numbers: range, *, delay: float = 0.0) -> None:
    for n in numbers:
        server.route(f"/a/{n}", Reply(body=article_page(n), headers=HTML, delay=delay))


def items(server: HttpServer, numbers: range) -> list[tuple[str, str]]:
    return [(f"item-{n}", server.url(f"/a/{n}")) for n in numbers]


async def published(settings: Settings, consume: Any, *, expect: int) -> list[dict[str, Any]]:
    topic = topic_names(settings.kafka.topics)["articles"]
    boot = settings.kafka.bootstrap_servers
    assert boot is not None
    records = await consume(boot, topic, expect=expect, timeout=90, settle=1.5)
    return [json.loads(r.value) for r in records]


async def test_a_crash_with_items_in_flight_loses_none_of_them(
    tmp_path, kafka_settings, consume_topic
):
    """SIGKILL after a second poll saw all of a feed's items still in flight (slow pages):
    the restarted daemon publishes every item, although the feed did not change."""
    numbers = range(6)
    with HttpServer() as server:
        server.route("/feed.xml", Reply(body=rss(items(server, numbers)), headers=RSS))
        serve_pages(server, numbers, delay=HANG)
        config = write_config(tmp_path, kafka_settings, server.url("/feed.xml"), poll=FAST_POLL)
        state = tmp_path / "state"
        async with DaemonProcess(config, state, log_name="first") as first:
            await first.wait_until(lambda: len(server.hits("/feed.xml")) >= 3)
            await asyncio.sleep(0.5)  # past the next tick, which stores the feed's state
            first.kill()
            await first.wait(10)
        serve_pages(server, numbers)
        async with DaemonProcess(config, state, log_name="second") as second:
            await second.wait_for_log("feed.polled")  # running, signal handlers in place
            events = await published(kafka_settings, consume_topic, expect=len(numbers))
            second.signal(signal.SIGTERM)
            assert await second.wait(30) == 0, second.tail()
    assert sorted(e["guid"] for e in events) == sorted(guid for guid, _ in items(server, numbers))


@pytest.mark.parametrize(
    ("signals", "grace"), [(1, 3.0), (2, 60.0)], ids=["drain-times-out", "second-signal"]
)
async def test_a_stop_leaves_exactly_the_unfinished_entries_for_the_next_start(
    tmp_path, kafka_settings, consume_topic, signals, grace
):
    """Half the pages answer at once, half hang.  SIGTERM (once: the drain times out after
    `shutdown_grace`; twice: the second signal ends the drain at once): the daemon exits 0
    within the grace period plus a few seconds, and the next start publishes exactly the
    unfinished entries: every item once, no duplicate event ids."""
    done, hanging = range(4), range(4, 8)
    with HttpServer() as server:
        feed = rss(items(server, range(8)))
        server.route("/feed.xml", Reply(body=feed, headers=RSS))
        serve_pages(server, done)
        serve_pages(server, hanging, delay=HANG)
        config = write_config(
            tmp_path,
            kafka_settings,
            server.url("/feed.xml"),
            poll=FAST_POLL,
            pipeline={"shutdown_grace": grace},
        )
        state = tmp_path / "state"
        async with DaemonProcess(config, state, log_name="first") as first:
            assert len(await published(kafka_settings, consume_topic, expect=4)) == 4
            await first.wait_until(lambda: len(server.hits("/feed.xml")) >= 3)
            stopped_at = time.monotonic()
            first.signal(signal.SIGTERM)
            if signals == 2:
                await asyncio.sleep(0.5)
                first.signal(signal.SIGTERM)
            assert await first.wait(grace + 15) == 0, first.tail()
            took = time.monotonic() - stopped_at
        assert took < (grace if signals == 1 else 0.5) + 8.0, took
        serve_pages(server, hanging)
        async with DaemonProcess(config, state, log_name="second") as second:
            await second.wait_for_log("feed.polled")  # running, signal handlers in place
            events = await published(kafka_settings, consume_topic, expect=8)
            second.signal(signal.SIGTERM)
            assert await second.wait(30) == 0, second.tail()
    assert sorted(e["guid"] for e in events) == sorted(f"item-{n}" for n in range(8))
    assert len({e["event_id"] for e in events}) == len(events) == 8


async def test_sigterm_during_a_large_poll_stops_intake_and_exits_within_the_grace_period(
    tmp_path, kafka_settings
):
    """A 3,000-entry feed whose pages hang: on SIGTERM no further entry of the poll enters the
    pipeline (page requests after the signal stay within what was already queued), and the
    daemon exits 0 within `shutdown_grace` plus a few seconds."""
    numbers = range(3000)
    queue_size, workers, grace = 10, 4, 3.0
    with HttpServer() as server:
        server.route("/feed.xml", Reply(body=rss(items(server, numbers)), headers=RSS))
        serve_pages(server, numbers, delay=HANG)
        config = write_config(
            tmp_path,
            kafka_settings,
            server.url("/feed.xml"),
            pipeline={"shutdown_grace": grace, "queue_size": queue_size, "fetch_workers": workers},
        )
        async with DaemonProcess(config, tmp_path / "state") as daemon:
            await daemon.wait_until(lambda: len(server.hits()) > workers)
            signalled = time.monotonic()
            daemon.signal(signal.SIGTERM)
            assert await daemon.wait(grace + 15) == 0, daemon.tail()
            took = time.monotonic() - signalled
        after = [h for h in server.hits() if h.path.startswith("/a/") and h.started > signalled]
    assert took < grace + 8.0, took
    assert len(after) <= queue_size + workers, len(after)
