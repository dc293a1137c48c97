"""Feed commands against a running daemon: the real `newsd run` process, a local feed server,
the test broker, and `newsd feeds ...` run as separate processes, as an operator would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daemon.settings import Settings
from tests.conftest import REPO
from tests.httpserver import Hit, HttpServer, Reply

APPLY_WITHIN = 5.0  # seconds the issue allows between a command and its effect


def feed_body(server: HttpServer, name: str) -> bytes:
    link = server.url(f"/{name}/story.html")
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>' + name + "</title>"
        f"<link>{server.url('/')}</link><description>d</description>"
        f"<item><title>Story {name}</title><link>{link}</link><guid>{name}-1</guid></item>"
        "</channel></rss>"
    ).encode()


def conditional(body: bytes, etag: str) -> Callable[[Hit], Reply]:
    """200 with an ETag, 304 when the client sends it back (RFC 9110 §13.1.2)."""

    def answer(hit: Hit) -> Reply:
        if hit.headers.get("if-none-match") == etag:
            return Reply(status=304, headers={"ETag": etag})
        return Reply(body=body, headers={"Content-Type": "application/rss+xml", "ETag": etag})

    return answer


@pytest.fixture
def feeds_server() -> Iterator[HttpServer]:
    page = b"<html><body><article><h1>T</h1>" + b"<p>Some words of text here.</p>" * 20
    with HttpServer() as server:
        for name in ("a", "b"):
            server.route(f"/{name}.xml", conditional(feed_body(server, name), f'"{name}-v1"'))
            server.route(
                f"/{name}/story.html", Reply(body=page, headers={"Content-Type": "text/html"})
            )
        yield server


def write_config(tmp_path: Path, settings: Settings, feed_a: str) -> Path:
    lines = [
        "[kafka]",
        f'bootstrap_servers = "{settings.kafka.bootstrap_servers}"',
        "enable_idempotence = false",
        "linger_ms = 0",
        "[kafka.topics]",
        f'prefix = "{settings.kafka.topics.prefix}"',
        "partitions = 1",
        "[fetch]",
        'allow_private_networks = ["127.0.0.1/32"]',
        "per_domain_min_interval = 0",
        "respect_robots = false",
        "[poll]",
        "min_interval = 1",
        "max_interval = 1",
        "default_interval = 1",
        "jitter = 0",
        "tick = 0.2",
        "[extract]",
        "workers = 1",
        "[[feeds]]",
        'id = "a"',
        f'url = "{feed_a}"',
    ]
    path = tmp_path / "newsd.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "NEWSD_LOG__FORMAT": "json"}


def feeds_cmd(config: Path, state: Path, *args: str) -> str:
    options = ["--config", str(config), "--state", str(state)]
    done = subprocess.run(
        [sys.executable, "-m", "daemon", "feeds", *args, *options],
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def wait_for(check: Callable[[], bool], timeout: float) -> float:
    """Seconds until `check()` held; fails the test after `timeout`."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, "condition not met in time"
        time.sleep(0.1)
    return time.monotonic() - start


@pytest.fixture
def daemon_run(tmp_path: Path, kafka_settings: Settings, feeds_server: HttpServer):
    config = write_config(tmp_path, kafka_settings, feeds_server.url("/a.xml"))
    state = tmp_path / "state"
    log = (tmp_path / "daemon.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "daemon", "run", "--config", str(config), "--state", str(state)],
        cwd=REPO,
        env=env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield config, state
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def polls(server: HttpServer, path: str) -> list[Hit]:
    return server.hits(path)


def assert_stopped(server: HttpServer, path: str, quiet: float = 3.0) -> None:
    """Requests to `path` (polled every second while active) stop within APPLY_WITHIN of now:
    no request starts during `quiet` seconds, and the last one started before the limit."""
    issued = time.monotonic()
    seen = len(polls(server, path))
    quiet_since = issued
    while time.monotonic() - quiet_since < quiet:
        assert time.monotonic() - issued < APPLY_WITHIN + quiet, f"{path} still polled"
        time.sleep(0.1)
        if len(polls(server, path)) != seen:
            seen, quiet_since = len(polls(server, path)), time.monotonic()
    last = polls(server, path)[-1].started if seen else issued
    assert last - issued < APPLY_WITHIN


def resumes_with_cursor(server: HttpServer, path: str, etag: str) -> None:
    """The next request to `path` comes within APPLY_WITHIN and sends the stored ETag back."""
    before = len(polls(server, path))
    wait_for(lambda: len(polls(server, path)) > before, APPLY_WITHIN)
    assert polls(server, path)[before].headers.get("if-none-match") == etag


@pytest.mark.timeout(240)
def test_feeds_are_added_paused_resumed_and_removed_in_a_running_daemon(
    daemon_run: tuple[Path, Path], feeds_server: HttpServer
) -> None:
    """Against `newsd run`: an added feed is polled within 5 s; pause stops its requests within
    5 s and resume restarts them within 5 s with its ETag (cursor kept); remove stops them, and
    adding it again resumes from the same cursor; pausing a config-file feed works too; `feeds
    list --json` shows the states and the stored last error is empty on success."""
    config, state = daemon_run
    server = feeds_server
    wait_for(lambda: len(polls(server, "/a.xml")) > 0, 90)  # the daemon is up

    feeds_cmd(config, state, "add", server.url("/b.xml"), "--id", "b", "--interval", "1")
    wait_for(lambda: len(polls(server, "/b.xml")) > 0, APPLY_WITHIN)
    # The cursor is stored once the entry was published: then polls are conditional.
    wait_for(lambda: polls(server, "/b.xml")[-1].headers.get("if-none-match") == '"b-v1"', 30)

    feeds_cmd(config, state, "pause", "b")
    assert_stopped(server, "/b.xml")
    listed = {row["feed_id"]: row for row in json.loads(feeds_cmd(config, state, "list", "--json"))}
    assert listed["b"]["state"] == "paused" and listed["a"]["state"] == "active"
    assert listed["b"]["last_success_at"] is not None and listed["b"]["last_error"] is None

    feeds_cmd(config, state, "resume", "b")
    resumes_with_cursor(server, "/b.xml", '"b-v1"')

    feeds_cmd(config, state, "remove", "b")
    assert_stopped(server, "/b.xml")
    feeds_cmd(config, state, "add", server.url("/b.xml"), "--id", "b", "--interval", "1")
    resumes_with_cursor(server, "/b.xml", '"b-v1"')

    feeds_cmd(config, state, "pause", "a")
    assert_stopped(server, "/a.xml")
    feeds_cmd(config, state, "resume", "a")
    resumes_with_cursor(server, "/a.xml", '"a-v1"')
