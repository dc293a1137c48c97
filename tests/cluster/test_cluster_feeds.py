"""Cluster mode end to end: three `newsd run` processes share 60 feeds through a consumer group.

Real parts only: the daemons are child processes, the feeds and article pages come from a local
HTTP server that records every request (each instance sends its own User-Agent, so a request
names the instance that made it), and the broker is the test broker.  One instance is killed
with SIGKILL; its feeds move to the survivors, which restore the feeds' cursors.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon.settings import Settings
from daemon.sinks.kafka import topic_names
from tests.conftest import REPO, consume
from tests.daemon_process import HTML, RSS, DaemonProcess, article_page, rss
from tests.httpserver import Hit, HttpServer, Reply

FEEDS = 60
INTERVAL = 1.0  # seconds between polls of one feed
SESSION_MS = 3000  # short, yet long enough for a busy 2-core machine
HEARTBEAT_MS = 300
TICK = 0.2  # the poller looks for due feeds this often
NAMES = ("a", "b", "c")


class FeedSite:
    """60 feeds; `items` items each (more when `grow()` is called); ETag and 304 like a real
    server.  Page n of feed i is article number 1000 * i + n (no two share a 5-gram)."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.items = 1
        for i in range(FEEDS):
            server.route(f"/feed/{i}.xml", self._feed(i))
            for n in range(3):
                server.route(self.page(i, n), Reply(body=article_page(1000 * i + n), headers=HTML))

    @staticmethod
    def page(feed: int, n: int) -> str:
        return f"/page/{feed}/{n}.html"

    def _feed(self, i: int) -> Any:
        def answer(hit: Hit) -> Reply:
            etag = f'"{i}-{self.items}"'
            if hit.headers.get("if-none-match") == etag:
                return Reply(status=304, headers={"ETag": etag})
            items = [(f"f{i}-{n}", self.server.url(self.page(i, n))) for n in range(self.items)]
            return Reply(body=rss(items), headers={**RSS, "ETag": etag})

        return answer

    def pages(self) -> list[str]:
        return [self.page(i, n) for i in range(FEEDS) for n in range(self.items)]


@pytest.fixture
def site() -> Iterator[FeedSite]:
    with HttpServer() as server:
        yield FeedSite(server)


def write_config(tmp_path: Path, settings: Settings, site: FeedSite, name: str) -> Path:
    """The same settings for every instance but the User-Agent (and so the state dir)."""
    prefix = settings.kafka.topics.prefix
    sections: dict[str, dict[str, Any]] = {
        "kafka": {
            "bootstrap_servers": settings.kafka.bootstrap_servers,
            "enable_idempotence": False,
            "linger_ms": 0,
        },
        "kafka.topics": {"prefix": prefix, "partitions": 3},
        "fetch": {
            "allow_private_networks": ["127.0.0.1/32"],
            "per_domain_min_interval": 0,
            "per_domain_concurrency": 32,
            "respect_robots": False,
            "user_agent": f"newsd-test-{name}",
        },
        "poll": {
            "min_interval": INTERVAL,
            "max_interval": INTERVAL,
            "default_interval": INTERVAL,
            "jitter": 0.0,
            "tick": TICK,
        },
        "pipeline": {"shutdown_grace": 2.0},
        "extract": {"workers": 1},
        "cluster": {
            "enabled": True,
            "group": f"{prefix}group",
            "topic_prefix": f"{prefix}cluster",
            "session_timeout_ms": SESSION_MS,
            "heartbeat_interval_ms": HEARTBEAT_MS,
        },
    }
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    for i in range(FEEDS):
        lines += [
            "[[feeds]]",
            f'id = "feed-{i}"',
            f"url = {json.dumps(site.server.url(f'/feed/{i}.xml'))}",
        ]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def pollers(site: FeedSite, since: float, until: float = float("inf")) -> dict[int, set[str]]:
    """Feed number → the instances (User-Agent suffix) that polled it within [since, until)."""
    found: dict[int, set[str]] = defaultdict(set)
    for hit in site.server.hits():
        if hit.path.startswith("/feed/") and since <= hit.started < until:
            feed = int(hit.path.removeprefix("/feed/").removesuffix(".xml"))
            found[feed].add(hit.headers["user-agent"].removeprefix("newsd-test-"))
    return found


def assigned(daemon: DaemonProcess) -> int:
    """Partitions the instance owns according to its last `cluster.assigned`/`revoked` line."""
    lines = [e for e in daemon.logs() if e.get("event") in ("cluster.assigned", "cluster.revoked")]
    if not lines or lines[-1]["event"] == "cluster.revoked":
        return 0
    return int(lines[-1]["assigned"])


async def settled(daemons: list[DaemonProcess], partitions: int, timeout: float) -> None:
    """Wait until the live instances own every partition between them, each at least one."""
    async with asyncio.timeout(timeout):
        while True:
            counts = [assigned(d) for d in daemons]
            if sum(counts) == partitions and all(counts):
                return
            await asyncio.sleep(0.2)


async def polled_again(
    site: FeedSite, feeds: set[int], since: float, timeout: float
) -> dict[int, set[str]]:
    """Wait until every feed of `feeds` was polled after `since` by a live instance (not "c")."""
    async with asyncio.timeout(timeout):
        while True:
            found = pollers(site, since=since)
            if all(found.get(feed, set()) - {"c"} for feed in feeds):
                return found
            await asyncio.sleep(0.1)


async def read_events(bootstrap: str, topic: str, expect: int, timeout: float) -> list[Any]:
    """The topic from the beginning: `expect` records, then 2 s more to catch extra ones."""
    return await consume(bootstrap, topic, expect=expect, timeout=timeout, settle=2.0)


async def readiness(daemon: DaemonProcess) -> str:
    """The reason `/readyz` gives (the ops address is in the `ops.listening` line)."""
    address = next(e["address"] for e in daemon.logs() if e.get("event") == "ops.listening")
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://{address}/readyz")
    return str(answer.json()["reason"])


PHASES = {
    "noticed": "Heartbeat failed for group",  # the coordinator told a survivor: rebalancing
    "revoking": "cluster.revoking",
    "revoked": "cluster.revoked",
    "joined": "cluster.assigning",  # JoinGroup and SyncGroup done
    "loaded": "cluster.assigned",  # feed specs and cursors read, the poller has its feeds
}


def phases(daemon: DaemonProcess, since: float) -> dict[str, float]:
    """Seconds from `since` (a wall time) to the first log line of each phase of a takeover."""
    found: dict[str, float] = {}
    for line in daemon.logs():
        at = datetime.fromisoformat(line["timestamp"]).timestamp() - since
        for phase, event in PHASES.items():
            if at > 0 and phase not in found and str(line.get("event", "")).startswith(event):
                found[phase] = round(at, 2)
    return found


def feeds_command(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSD_LOG__FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "-m", "daemon", "feeds", *args, "--config", str(config)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.timeout(300)
async def test_three_instances_share_sixty_feeds_and_survive_a_sigkill(
    tmp_path, kafka_settings, site
):
    """Every feed is polled by exactly one instance; SIGKILL one and its feeds are polled again
    within the session timeout plus one interval (plus the broker's re-join), by one survivor
    each; every article reaches the topic once (no event id twice as new), no page is fetched
    twice (the moved feeds' cursors were restored), and `newsd feeds add` reaches the owner.
    `/readyz` names the partitions each instance owns."""
    bootstrap = kafka_settings.kafka.bootstrap_servers
    articles = topic_names(kafka_settings.kafka.topics)["articles"]
    configs = {n: write_config(tmp_path, kafka_settings, site, n) for n in NAMES}
    async with (
        DaemonProcess(configs["a"], tmp_path / "a", log_name="a") as a,
        DaemonProcess(configs["b"], tmp_path / "b", log_name="b") as b,
        DaemonProcess(configs["c"], tmp_path / "c", log_name="c") as c,
    ):
        daemons = {"a": a, "b": b, "c": c}
        await settled([a, b, c], 12, timeout=90)
        first = await read_events(bootstrap, articles, expect=FEEDS, timeout=90)
        assert len(first) == FEEDS
        reasons = [await readiness(d) for d in (a, b, c)]
        assert all(
            r.endswith(f"cluster: assigned {assigned(d)} partitions")
            for r, d in zip(reasons, (a, b, c), strict=True)
        ), reasons

        stable = time.monotonic() + 2 * INTERVAL
        await asyncio.sleep(6 * INTERVAL)
        owners = pollers(site, since=stable, until=time.monotonic())
        assert set(owners) == set(range(FEEDS))  # every feed polled in the stable window …
        assert all(len(who) == 1 for who in owners.values()), owners  # … by one instance
        owned_by_c = {feed for feed, who in owners.items() if who == {"c"}}
        assert owned_by_c

        c.kill()
        killed, killed_at = time.monotonic(), time.time()
        await settled([a, b], 12, timeout=60)
        # The takeover is measured on polls that find nothing new: the new items come after, so
        # their fetches and extraction do not hold up the first polls of the moved feeds.
        await polled_again(site, owned_by_c, since=killed, timeout=60)
        moved = time.monotonic()  # the survivors own every partition from here on
        site.items = 2  # a new item in every feed: the survivors must publish it
        second = await read_events(bootstrap, articles, expect=2 * FEEDS, timeout=90)

        takeover = {}
        for feed in owned_by_c:
            hits = [
                h.started
                for h in site.server.hits(f"/feed/{feed}.xml")
                if h.started > killed and not h.headers["user-agent"].endswith("-c")
            ]
            takeover[feed] = min(hits) - killed
        print(
            f"takeover after SIGKILL: max {max(takeover.values()):.2f} s over {len(takeover)} feeds"
        )
        steps = {name: phases(daemons[name], killed_at) for name in ("a", "b")}
        print("phases after SIGKILL (s):", steps)

        after = pollers(site, since=moved)
        assert set(after) == set(range(FEEDS))
        assert all(len(who) == 1 and "c" not in who for who in after.values()), after

        site.server.route(
            "/feed/extra.xml",
            Reply(body=rss([("extra-0", site.server.url("/page/extra.html"))]), headers=RSS),
        )
        site.server.route("/page/extra.html", Reply(body=article_page(99_999), headers=HTML))
        result = feeds_command(
            configs["a"], "add", site.server.url("/feed/extra.xml"), "--id", "extra"
        )
        assert result.returncode == 0, result.stderr[-2000:]
        third = await read_events(bootstrap, articles, expect=2 * FEEDS + 1, timeout=60)
        extra = {h.headers["user-agent"] for h in site.server.hits("/feed/extra.xml")}
        logs = {name: d.logs() for name, d in daemons.items()}

    events = [json.loads(r.value) for r in third]
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)) == 2 * FEEDS + 1, "an article lost or published twice"
    assert {e["type"] for e in events} == {"article.new"}
    assert len(second) == 2 * FEEDS
    pages = {p: len(site.server.hits(p)) for p in site.pages()}
    assert set(pages.values()) == {1}, {p: n for p, n in pages.items() if n != 1}
    assert len(extra) == 1  # the added feed is polled by its owner alone
    # The bound is the session timeout plus one interval.  Outside newsd, and allowed
    # on top: the coordinator acts on the death at the first heartbeat after the session
    # timeout (up to one heartbeat interval late), and holds the survivors' JoinGroup and
    # SyncGroup (the test broker: in 1 s steps, until half the session timeout has passed,
    # and until the leader's assignment arrived; 2-3 s) — measured here from each survivor's
    # `cluster.revoked` to its `cluster.assigning`.  Everything else counts against newsd:
    # its revocation, reading the new partitions' feeds and cursors, and the first poll, which
    # starts at the first poller tick at which the feed is due (one interval, one tick).
    # Runs under CI load polled a few moved feeds 1.2-1.4 s after their owner's load (cause
    # not found yet), so the bound keeps the allowance the test had before the phases were
    # logged: twice the session timeout (noticing, then the re-join), 1 s for the load, one
    # interval.  The phases are printed to follow the figure.
    rejoin = max(step["joined"] - step["revoked"] for step in steps.values())
    assert rejoin <= SESSION_MS / 2000 + 2.0, steps  # the broker's pauses, as documented
    bound = 2 * SESSION_MS / 1000 + 1.0 + INTERVAL
    assert max(takeover.values()) <= bound, (takeover, bound, steps)
    restored = sum(
        e.get("restored", 0)
        for n in ("a", "b")
        for e in logs[n]
        if e["event"] == "cluster.assigned"
    )
    assert restored >= len(owned_by_c)
