"""The archive writer: WARC pairs, rotation, `.open` renames, and the replay round trip."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from daemon.dedup.keys import canonical_url, content_hash, event_id
from daemon.fetch.contract import Hop, HttpResponse
from daemon.replay.archive import ArchiveWriter
from daemon.replay.source import ReplaySource
from daemon.settings import ArchiveSettings

Build = Callable[..., HttpResponse]
T0 = datetime(2024, 9, 3, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _settings(tmp_path: Path, **overrides: object) -> ArchiveSettings:
    return ArchiveSettings.model_validate(
        {"enabled": True, "dir": tmp_path / "archive", **overrides}
    )


def _records(path: Path) -> list[tuple[str, str | None]]:
    with path.open("rb") as raw:
        return [
            (r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in ArchiveIterator(raw)
        ]


async def test_pair_written_with_warcinfo_digest_and_concurrent_to(
    tmp_path: Path, response: Build, page: bytes
) -> None:
    """Each fetch is a request+response pair after a warcinfo record; every record is its own
    gzip member, readable by warcio, and the request points at its response."""
    writer = ArchiveWriter(_settings(tmp_path), clock=Clock())
    await writer.record(response("https://news.example/a/bridge", page, "text/html"), "page")
    await writer.close()
    [path] = sorted((tmp_path / "archive").iterdir())
    assert path.name == "newsd-20240903T090000Z-00000.warc.gz"
    with path.open("rb") as raw:
        iterator = ArchiveIterator(raw)
        records = []
        for record in iterator:
            records.append(record.rec_headers)
            iterator.read_to_end()
            assert raw.read(0) == b""  # offsets are per-member
    assert [h.get_header("WARC-Type") for h in records] == ["warcinfo", "response", "request"]
    info, resp, req = records
    assert resp.get_header("WARC-Date") == "2024-09-03T09:30:15.123456Z"
    assert resp.get_header("WARC-Payload-Digest", "").startswith("sha1:")
    assert req.get_header("WARC-Concurrent-To") == resp.get_header("WARC-Record-ID")
    assert info.protocol == "WARC/1.1"
    assert path.read_bytes().count(b"\x1f\x8b\x08") >= 3  # one gzip member per record


async def test_decoded_body_gets_consistent_headers(
    tmp_path: Path, response: Build, page: bytes
) -> None:
    """Content-Encoding/Transfer-Encoding are dropped, Content-Length fits the stored body, and
    the originals are kept in X-Newsd-Original-* WARC headers."""
    writer = ArchiveWriter(_settings(tmp_path), clock=Clock())
    original = {"content-encoding": "gzip", "content-length": "321", "transfer-encoding": "chunked"}
    await writer.record(
        response("https://n.example/a", page, "text/html", headers=original), "page"
    )
    await writer.close()
    [path] = writer.closed_files
    with path.open("rb") as raw:
        resp = next(r for r in ArchiveIterator(raw) if r.rec_type == "response")
        assert resp.content_stream().read() == page
        http = resp.http_headers
        assert http.get_header("Content-Encoding") is None
        assert http.get_header("Transfer-Encoding") is None
        assert http.get_header("Content-Length") == str(len(page))
        assert resp.rec_headers.get_header("X-Newsd-Original-Content-Encoding") == "gzip"
        assert resp.rec_headers.get_header("X-Newsd-Original-Content-Length") == "321"


async def test_rotation_by_size(tmp_path: Path, response: Build) -> None:
    """A file that reaches max_bytes is closed; the next record starts a new file."""
    writer = ArchiveWriter(_settings(tmp_path, max_bytes=4096), clock=Clock())
    rng = random.Random(7)  # incompressible bodies of 1.5 KB: two pairs pass 4096 bytes
    for n in range(6):
        body = rng.randbytes(1500)
        await writer.record(response(f"https://n.example/{n}", body, "text/html"), "page")
    await writer.close()
    files = sorted((tmp_path / "archive").iterdir())
    assert [f.name[-13:] for f in files] == ["00000.warc.gz", "00001.warc.gz", "00002.warc.gz"]
    assert all(f.stat().st_size >= 4096 for f in files)
    responses = [uri for f in files for kind, uri in _records(f) if kind == "response"]
    assert responses == [f"https://n.example/{n}" for n in range(6)]


async def test_rotation_by_age(tmp_path: Path, response: Build, page: bytes) -> None:
    """A record arriving max_age after a file was opened goes to a new, newly named file."""
    clock = Clock()
    writer = ArchiveWriter(_settings(tmp_path, max_age=60), clock=clock)
    await writer.record(response("https://n.example/1", page, "text/html"), "page")
    clock.now += timedelta(seconds=59)
    await writer.record(response("https://n.example/2", page, "text/html"), "page")
    clock.now += timedelta(seconds=2)
    await writer.record(response("https://n.example/3", page, "text/html"), "page")
    await writer.close()
    names = sorted(f.name for f in (tmp_path / "archive").iterdir())
    assert names == ["newsd-20240903T090000Z-00000.warc.gz", "newsd-20240903T090101Z-00001.warc.gz"]


async def test_open_suffix_until_closed(tmp_path: Path, response: Build, page: bytes) -> None:
    """While a file is written it is `<name>.open` (replay skips it); close() renames it."""
    writer = ArchiveWriter(_settings(tmp_path), clock=Clock())
    await writer.record(response("https://n.example/1", page, "text/html"), "page")
    [open_file] = (tmp_path / "archive").iterdir()
    assert open_file.name.endswith(".warc.gz.open")
    source = ReplaySource([tmp_path / "archive"], run_id="t")
    assert list(source) == [] and source.stats["skip.incomplete_file"] == 1
    await writer.close()
    assert [f.name for f in (tmp_path / "archive").iterdir()] == [open_file.name[: -len(".open")]]


async def test_robots_are_not_archived(tmp_path: Path, response: Build) -> None:
    """Only feeds and pages are archived; other request kinds are counted."""
    writer = ArchiveWriter(_settings(tmp_path), clock=Clock())
    await writer.record(response("https://n.example/robots.txt", b"", "text/plain"), "robots")
    await writer.close()
    assert writer.stats["skip.kind"] == 1 and writer.closed_files == []


async def test_round_trip_gives_the_live_pages_and_event_ids(
    tmp_path: Path, response: Build, rss: bytes, page: bytes
) -> None:
    """What the writer archived replays to pages with the live URL, body, content type and
    fetch time, joined to their feed entry: the same event ids as the live run."""
    feed = response("https://news.example/rss", rss, "application/rss+xml; charset=utf-8")
    live = response(
        "https://news.example/a/bridge",
        page,
        "text/html; charset=utf-8",
        at=datetime(2024, 9, 3, 9, 31, 0, 654321, tzinfo=UTC),
        final_url="https://www.news.example/a/bridge",
    )
    live = HttpResponse(**{**_fields(live), "redirects": (Hop(301, live.final_url),)})
    writer = ArchiveWriter(_settings(tmp_path), clock=Clock())
    await writer.record(feed, "feed")
    await writer.record(live, "page")
    await writer.close()
    source = ReplaySource([tmp_path / "archive"], run_id="t")
    [item] = list(source)
    got = item.page
    assert (got.final_url, got.body, got.content_type, got.fetched_at) == (
        live.final_url,
        live.body,
        live.headers["content-type"],
        live.fetched_at,
    )
    assert got.entry.url == live.url and got.entry.title == "Bridge reopens after repairs"
    assert got.entry.origin.url == "https://news.example/rss"
    live_id = event_id(canonical_url(live.final_url), content_hash(live.body.decode()))
    assert event_id(canonical_url(got.final_url), content_hash(got.body.decode())) == live_id
    assert source.stats["skip.page_missing"] == 1  # the feed's second item was never fetched


def _fields(response: HttpResponse) -> dict[str, object]:
    return {name: getattr(response, name) for name in HttpResponse.__dataclass_fields__}
