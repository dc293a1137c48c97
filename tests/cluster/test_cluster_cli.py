"""`newsd run` and `newsd replay` in cluster mode, as real processes on the test broker."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.settings import load
from tests.cluster.conftest import public_events
from tests.cluster.test_distributed_replay import write_warc
from tests.conftest import SEEDS
from tests.daemon_process import NewsdProcess, write_ops_config
from tests.httpserver import HttpServer, Reply
from tests.test_e2e import newsd
from tests.test_e2e_dedup import PLAIN, RSS, rss


async def test_two_instances_polling_the_same_feed_publish_each_article_once(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    """Two `newsd run` processes in cluster mode poll the same feed (feed ownership is not
    theirs to split here): the one dedup owner publishes each article once; a distributed
    `newsd replay` of two WARC files is taken by the running instances."""
    seeds = sorted(SEEDS.glob("*.txt"))[:3]
    when = datetime(2026, 1, 1, tzinfo=UTC)
    kafka, cluster = overrides["kafka"], overrides["cluster"]
    with HttpServer() as server:
        links = []
        for i, seed in enumerate(seeds):
            server.route(f"/s/{i}.txt", Reply(body=seed.read_bytes(), headers=PLAIN))
            links.append((f"g{i}", server.url(f"/s/{i}.txt"), when))
        server.route("/feed.xml", Reply(body=rss(links), headers=RSS))
        config = write_ops_config(
            tmp_path / "newsd.toml", bootstrap=kafka["bootstrap_servers"],
            prefix=kafka["topics"]["prefix"], feed_url=server.url("/feed.xml"),
            cluster=cluster, pipeline={"shutdown_grace": 5.0},
        )  # fmt: skip
        run = ("run", "--config", str(config), "--state")
        async with (
            NewsdProcess(*run, str(tmp_path / "a")) as a,
            NewsdProcess(*run, str(tmp_path / "b")) as b,
        ):
            await a.wait_event("daemon.started")
            await b.wait_event("daemon.started")
            settings = load(config)
            events = await public_events(settings, expect=3, timeout=90, settle=3.0)
            warcs = [
                write_warc(tmp_path / "one.warc.gz", [("http://w.test/0", seeds[0].read_text())]),
                write_warc(tmp_path / "two.warc.gz", [("http://w.test/1", seeds[1].read_text())]),
            ]
            submitted = await asyncio.to_thread(
                newsd, "replay", "--config", str(config), *map(str, warcs)
            )
            assert submitted.returncode == 0, submitted.stderr[-3000:]
            assert json.loads(submitted.stdout)["distributed"] is True
            replayed = await public_events(settings, expect=5, timeout=90, settle=2.0)
            for daemon in (a, b):
                daemon.signal_group(signal.SIGTERM)
            assert await a.wait_exit() == 0, a.stderr()[-3000:]
            assert await b.wait_exit() == 0, b.stderr()[-3000:]
    assert Counter(e["type"] for e in events) == {"article.new": 3}
    assert len({e["event_id"] for e in events}) == 3
    by_url = {e["url"]: e for e in replayed}
    assert len(replayed) == 5
    assert by_url["http://w.test/0"]["type"] == "article.duplicate"
    assert by_url["http://w.test/0"]["duplicate_of"] == by_url[links[0][1]]["event_id"]
