"""The parts behind the ops endpoint, one at a time: the readiness rule, the counters'
exposition, the HTTP server, the health verdict, the reload decision, the state lock, logging."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from daemon import reload
from daemon.errors import StateLocked
from daemon.observability import health
from daemon.observability.logging import configure
from daemon.observability.metrics import Metrics, split_name
from daemon.observability.readiness import PublishState, ReadinessProbe, decide
from daemon.observability.server import Answer, OpsServer, json_answer
from daemon.settings import load
from daemon.state.lock import state_lock
from tests.conftest import until

# -- readiness ---------------------------------------------------------------------------------


def _publish(pending: int, last_ok: bool) -> PublishState:
    state = PublishState(pending=pending)
    state.attempted(ok=last_ok, reason="" if last_ok else "kafka_requesttimedout")
    return state


@pytest.mark.parametrize(
    ("name", "pending", "last_ok", "broker", "store", "ready"),
    [
        ("all well", 3, True, None, None, True),
        ("last publish failed but nothing pends", 0, False, None, None, True),
        ("last publish failed with events pending", 2, False, None, None, False),
        ("metadata request failed", 0, True, "no answer within 3 s", None, False),
        ("state store not writable", 0, True, None, "readonly database", False),
    ],
)
def test_readiness_rule(name, pending, last_ok, broker, store, ready):
    """Ready only when the broker answers, publishing is not failing with events pending, and
    the state store is writable; the reason names the failed check."""
    verdict = decide(_publish(pending, last_ok), broker, store)
    assert verdict.ready is ready, name
    assert (verdict.reason == "ok") is ready


async def test_probe_turns_unready_when_a_check_hangs_and_ready_when_it_answers():
    """A broker check that does not answer within the timeout makes the probe unready; once it
    answers, ready again."""
    import asyncio

    answer = asyncio.Event()

    async def broker() -> None:
        await answer.wait()  # hangs until the test lets it answer

    async def store() -> None:
        return None

    probe = ReadinessProbe(PublishState(), broker=broker, store=store, interval=0.01, timeout=0.05)
    task = asyncio.create_task(probe.run())
    await until(lambda: "no answer" in probe.verdict().reason)
    assert not probe.verdict().ready
    answer.set()
    await until(lambda: probe.verdict().ready)
    task.cancel()


def test_publish_state_counts_stall_from_the_last_acknowledgement():
    """Failed deliveries do not restart the stall clock; an acknowledgement does."""
    state = PublishState()
    state.started()
    state.progress_at -= 30  # the first event has waited 30 s
    state.finished(ok=False, reason="timeout")
    state.started()  # redone after the failure
    assert state.stalled_for(time.time()) >= 30
    state.finished(ok=True)
    assert state.stalled_for(time.time() + 100) == 0
    state.started()
    assert state.stalled_for(time.time()) < 5


# -- metrics -----------------------------------------------------------------------------------


def test_counter_names_split_into_stage_outcome_reason():
    """`publish.ok.article.new` keeps the dotted event type as its reason."""
    assert split_name("fetch.error.timeout") == ("fetch", "error", "timeout")
    assert split_name("publish.ok.article.new") == ("publish", "ok", "article.new")
    assert split_name("poll.ok") == ("poll", "ok", "")


def test_exposition_parses_and_carries_counters_included_sources_and_gauges():
    """The text format parses; counters, an included stage counter and a gauge read at scrape
    time appear with their labels and current values."""
    metrics = Metrics()
    metrics.incr("publish.ok.article.new", 3)
    poller = Counter({"poll.error.http_404": 1})
    metrics.include(poller)
    depth = {"entries": 2}
    metrics.gauge("newsd_queue_depth", "d", lambda: {("entries",): depth["entries"]}, ("queue",))
    poller["poll.error.http_404"] += 1
    depth["entries"] = 5
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for s in family.samples
    }
    assert found[("newsd_events_published_total", (("type", "article.new"),))] == 3
    key = ("newsd_records_total", (("outcome", "error"), ("reason", "http_404"), ("stage", "poll")))
    assert found[key] == 2
    assert found[("newsd_queue_depth", (("queue", "entries"),))] == 5
    assert metrics.snapshot()["poll.error.http_404"] == 2


# -- the HTTP server ---------------------------------------------------------------------------


async def test_ops_server_answers_routes_404_and_head():
    """Known paths answer their route, unknown ones 404, HEAD has no body, POST is refused."""
    routes = {"/healthz": lambda: json_answer(False, "a pipeline worker has stopped")}
    routes["/metrics"] = lambda: Answer(200, b"x 1\n", "text/plain")
    server = OpsServer("127.0.0.1", 0, routes)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://{server.address}") as client:
            sick = await client.get("/healthz")
            assert sick.status_code == 503 and sick.json()["ok"] is False
            assert (await client.get("/metrics?x=1")).text == "x 1\n"
            assert (await client.get("/nope")).status_code == 404
            head = await client.head("/metrics")
            assert head.status_code == 200 and head.content == b""
            assert (await client.post("/metrics")).status_code == 405
    finally:
        await server.close()


# -- health ------------------------------------------------------------------------------------


def test_health_is_false_for_a_dead_pid_and_a_stalled_publisher(tmp_path):
    """A fresh file written by a process that has exited is unhealthy; so is a live daemon
    whose publisher has waited longer than max_age for an acknowledgement."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    health.write(tmp_path, started=0.0, counts={}, pid=int(dead.stdout))
    verdict = health.check(tmp_path, max_age=60)
    assert not verdict.healthy and "not running" in verdict.reason
    health.write(tmp_path, started=0.0, counts={}, pending=4, stalled_s=61.0, pid=os.getpid())
    verdict = health.check(tmp_path, max_age=60)
    assert not verdict.healthy and "publisher stalled: 4 events" in verdict.reason
    health.write(tmp_path, started=0.0, counts={}, pending=4, stalled_s=5.0, pid=os.getpid())
    assert health.check(tmp_path, max_age=60).healthy


# -- reload ------------------------------------------------------------------------------------


def test_reload_applies_runtime_settings_and_names_the_rest():
    """Feeds, log level, stats interval and per-feed metrics change at runtime; anything else
    is reported as needing a restart."""
    old = load(None)
    new = load(
        None,
        feeds=[{"url": "https://a.example/rss"}],
        log={"level": "debug"},
        kafka={"linger_ms": 5},
        ops={"per_feed_metrics": False},
    )
    changes = reload.changes(old, new)
    assert changes.applied == ("feeds", "log.level", "ops.per_feed_metrics")
    assert changes.needs_restart == ("kafka.linger_ms",)
    assert reload.changes(old, load(None)) == reload.Changes((), ())


# -- the state lock ----------------------------------------------------------------------------


def test_state_lock_refuses_a_second_holder_naming_the_first(tmp_path):
    """A second lock on the same directory fails, naming the holder's pid; once released it
    can be taken again."""
    with (
        state_lock(tmp_path),
        pytest.raises(StateLocked, match=f"pid {os.getpid()}"),
        state_lock(tmp_path),
    ):
        pass
    with state_lock(tmp_path):
        pass


# -- logging -----------------------------------------------------------------------------------


def test_json_mode_renders_stdlib_records_and_warnings_as_json():
    """In JSON mode a dependency's stdlib log record, its exception and a Python warning are
    each one JSON line, like our own events."""
    import structlog

    out = io.StringIO()
    configure("info", "json", stream=out)
    structlog.get_logger("t").info("own.event", n=1)
    logging.getLogger("aiokafka.conn").warning("Unable connect to node %s", 1)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("coroutine was never awaited", RuntimeWarning, stacklevel=1)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"].split(" ")[0] for line in lines[:3]] == ["own.event", "Unable", "Task"]
    assert lines[1]["logger"] == "aiokafka.conn" and lines[1]["level"] == "warning"
    assert "ValueError: boom" in lines[2]["exception"]
    assert lines[3]["logger"] == "py.warnings" and "never awaited" in lines[3]["event"]
