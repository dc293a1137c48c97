"""Distributed replay: the files of a run spread over the group's replay workers, one owner
decides, and the events equal a single-process replay of the same files."""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from daemon.app import runtime
from daemon.cluster.articlecodec import FileDone, Position, encode, encode_done
from daemon.cluster.articles import ArticleForwarder
from daemon.cluster.replaywork import ReplayWorker, WorkItem, submit
from daemon.replay.source import ReplaySource
from daemon.settings import Settings
from daemon.sinks.kafka import KafkaSink
from tests.cluster.conftest import instance, owner, public_events, settings_for
from tests.conftest import SEEDS
from tests.test_e2e_dedup import repost_of

READ_AT = datetime(2026, 1, 1, tzinfo=UTC)


def page_html(text: str) -> bytes:
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line)
    head = "<html><head><title>t</title></head>"
    return f"{head}<body><article>{paragraphs}</article></body></html>".encode()


def write_warc(path: Path, pages: list[tuple[str, str]]) -> Path:
    """A WARC file of HTML responses (url, text), captured one minute apart."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for minute, (url, text) in enumerate(pages):
            body = page_html(text)
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            record = writer.create_warc_record(
                url, "response", payload=BytesIO(body), length=len(body), http_headers=headers,
                warc_headers_dict={"WARC-Date": f"2026-01-01T10:{minute:02d}:00Z"},
            )  # fmt: skip
            writer.write_record(record)
    return path


def archives(tmp_path: Path) -> list[Path]:
    """Three files; the later ones hold reposts of the first's stories, so which copy is the
    original depends on the order in which files are decided."""
    seeds = [p.read_text() for p in sorted(SEEDS.glob("*.txt"))[:4]]
    files = [
        [("http://a.test/0", seeds[0]), ("http://a.test/1", seeds[1])],
        [("http://b.test/0", repost_of(seeds[0])), ("http://a.test/2", seeds[2])],
        [("http://c.test/1", repost_of(seeds[1])), ("http://c.test/2", repost_of(seeds[2])),
         ("http://a.test/3", seeds[3])],
    ]  # fmt: skip
    return [write_warc(tmp_path / f"part-{i}.warc.gz", pages) for i, pages in enumerate(files)]


def verdicts(events: list[dict[str, Any]]) -> set[tuple[str, str, str, str | None]]:
    """What must be equal: per URL, its event id, its type and what it is a duplicate of."""
    return {(e["url"], e["event_id"], e["type"], e.get("duplicate_of")) for e in events}


async def single_process(settings: Settings, paths: list[Path]) -> list[dict[str, Any]]:
    sink = KafkaSink(settings.kafka, settings.kafka.bootstrap_servers or "")
    async with runtime(settings, sink) as rt:
        source = ReplaySource(paths, run_id="single", read_at=READ_AT)
        async for item in source.aiter():
            await rt.pipeline.feed_page(item.page)
        assert await rt.pipeline.drain(timeout=60)
    return await public_events(settings, expect=7)


@contextlib.asynccontextmanager
async def replay_worker(settings: Settings) -> AsyncIterator[ReplayWorker]:
    async with instance(settings) as (rt, forwarder):
        stop = asyncio.Event()
        worker = ReplayWorker(settings, rt.pipeline, forwarder, rt.metrics)
        task = asyncio.create_task(worker.run(stop))
        try:
            yield worker
        finally:
            stop.set()
            await task


async def test_a_distributed_replay_equals_the_single_process_replay(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    """Two replay workers and one owner replay three WARC files: the same event ids and the
    same verdicts (new / duplicate of which) as one process replaying them in order."""
    paths = archives(tmp_path)
    reference = await single_process(settings_for(overrides, tmp_path / "single"), paths)
    assert {e["type"] for e in reference} == {"article.new", "article.duplicate"}
    cluster_overrides = overrides | {"kafka": overrides["kafka"] | {
        "topics": {"prefix": overrides["kafka"]["topics"]["prefix"] + "cluster.", "partitions": 1}
    }}  # fmt: skip
    one, two = (settings_for(cluster_overrides, tmp_path / name) for name in ("w1", "w2"))
    items = [
        WorkItem("run-1", index, len(paths), str(path), READ_AT) for index, path in enumerate(paths)
    ]
    async with owner(one), replay_worker(one) as first, replay_worker(two) as second:
        await submit(one, items)
        events = await public_events(one, expect=len(reference), timeout=90)
        for _ in range(100):
            if first.files_done + second.files_done == len(paths):
                break
            await asyncio.sleep(0.1)
    assert first.files_done + second.files_done == len(paths)
    assert len(events) == len(reference) == 7
    assert verdicts(events) == verdicts(reference)


async def test_the_owner_decides_a_run_in_file_order_whatever_order_files_arrive(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    """File 1 (a repost) reaches the owner before file 0 (its original): the owner holds it
    until file 0 ended, so the original is `new` and the repost its duplicate."""
    seed = sorted(SEEDS.glob("*.txt"))[0].read_text()
    paths = [
        write_warc(tmp_path / "first.warc.gz", [("http://a.test/0", seed)]),
        write_warc(tmp_path / "second.warc.gz", [("http://b.test/0", repost_of(seed))]),
    ]
    settings = settings_for(overrides, tmp_path / "x")
    sink = KafkaSink(settings.kafka, settings.kafka.bootstrap_servers or "")
    articles = []
    async with runtime(settings, sink) as rt:  # extraction only: the articles, file by file
        for path in paths:
            async for item in ReplaySource([path], run_id="r", read_at=READ_AT).aiter():
                articles.append(await rt.extractor(item.page))
    forwarder = ArticleForwarder(settings)
    await forwarder.start()
    try:
        for record in [
            encode(articles[1], Position("r", 1, 0)),
            encode_done(FileDone("r", 1, 1)),
            encode(articles[0], Position("r", 0, 0)),
            encode_done(FileDone("r", 0, 1)),
        ]:
            await (await forwarder.send(b"r", record))
    finally:
        await forwarder.close()
    async with owner(settings):
        events = await public_events(settings, expect=2)
    by_url = {event["url"]: event for event in events}
    assert len(events) == 2
    assert by_url["http://a.test/0"]["type"] == "article.new"
    assert by_url["http://b.test/0"]["duplicate_of"] == by_url["http://a.test/0"]["event_id"]
