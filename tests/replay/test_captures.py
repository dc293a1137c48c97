"""Capture directories (seeds/, sidecars, manifests, feed snapshots) replay to FetchedPages."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from daemon.dedup.keys import canonical_url, content_hash, event_id
from daemon.records import FetchedPage
from daemon.replay.source import ReplaySource

STARTED = datetime(2026, 12, 1, 9, tzinfo=UTC)  # the replay run's start time


def _pages(*paths: Path) -> list[FetchedPage]:
    return [item.page for item in ReplaySource(list(paths), run_id="t", read_at=STARTED)]


def _ids(pages: list[FetchedPage]) -> list[str]:
    return [
        event_id(canonical_url(p.final_url), content_hash(p.body.decode("utf-8"))) for p in pages
    ]


def test_seeds_replay_to_five_text_pages(seeds: Path) -> None:
    """seeds/ gives exactly five plain-text captures with synthetic URLs; having no recorded
    capture time, they are fetched at the time the replay started (never 1970)."""
    pages = _pages(seeds)
    assert len(pages) == 5
    assert [p.final_url for p in pages] == [
        f"https://replay.invalid/{p.name}" for p in sorted(seeds.glob("*.txt"))
    ]
    assert all(p.is_text_capture and p.content_type == "text/plain" for p in pages)
    assert {p.fetched_at for p in pages} == {STARTED}
    default = [i.page for i in ReplaySource([seeds], run_id="t")]
    assert all(p.fetched_at.year > 1970 for p in default)  # the default: the run's start, now
    assert {p.entry.origin.kind for p in pages} == {"replay"}
    assert all(canonical_url(p.final_url) == p.final_url for p in pages)


def test_seeds_replay_is_identical_across_runs_and_checkouts(seeds: Path, tmp_path: Path) -> None:
    """Two runs (started at the same time), and a copy of seeds/ elsewhere, give the same
    pages and event ids."""
    copy = tmp_path / "elsewhere" / "seeds"
    shutil.copytree(seeds, copy)
    first, second, moved = _pages(seeds), _pages(seeds), _pages(copy)
    assert first == second == moved
    assert _ids(first) == _ids(moved)
    assert len(set(_ids(first))) == 5


def test_sidecar_gives_url_time_and_entry_fields(tmp_path: Path) -> None:
    """A `<file>.json` sidecar sets the URL, capture time and entry fields; .gz is decoded."""
    (tmp_path / "a.html.gz").write_bytes(gzip.compress(b"<html><p>hello</p></html>"))
    sidecar = {
        "url": "https://news.example/a",
        "fetched_at": "2024-09-03T10:00:00Z",
        "feed_url": "https://news.example/rss",
        "title": "A",
        "guid": "g-a",
        "published_at": "2024-09-03T09:00:00+02:00",
    }
    (tmp_path / "a.html.gz.json").write_text(json.dumps(sidecar))
    [page] = _pages(tmp_path)
    assert page.body == b"<html><p>hello</p></html>"
    assert page.final_url == "https://news.example/a"
    assert page.content_type == "text/html" and not page.is_text_capture
    assert page.fetched_at == datetime(2024, 9, 3, 10, tzinfo=UTC)
    assert page.entry.origin.url == "https://news.example/rss"
    assert (page.entry.title, page.entry.guid) == ("A", "g-a")
    assert page.entry.published_at == datetime(2024, 9, 3, 7, tzinfo=UTC)


def test_feed_snapshot_entries_are_joined_to_their_pages(
    tmp_path: Path, rss: bytes, page: bytes
) -> None:
    """A snapshot dir: the feed's entry travels with its page; entries without a page count."""
    (tmp_path / "feed.rss").write_bytes(rss)
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "bridge.html").write_bytes(page)
    manifest = [
        {"file": "feed.rss", "url": "https://news.example/rss", "fetched_at": "2024-09-03T08:05Z"},
        {
            "file": "pages/bridge.html",
            "url": "https://news.example/a/bridge?utm_source=rss",
            "fetched_at": "2024-09-03T08:06:00Z",
        },
    ]
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(m) for m in manifest) + "\n")
    source = ReplaySource([tmp_path], run_id="t")
    [item] = list(source)
    entry = item.page.entry
    assert entry.title == "Bridge reopens after repairs"
    assert entry.guid is not None and entry.guid.endswith("bridge-1")
    assert entry.summary == "The bridge reopened on Monday."
    assert entry.origin.url == "https://news.example/rss" and entry.origin.kind == "replay"
    assert item.page.final_url == "https://news.example/a/bridge?utm_source=rss"
    assert source.stats["skip.page_missing"] == 1
    assert source.stats["read.feed"] == 1 and source.stats["emitted"] == 1


def test_since_until_filter_on_capture_time(tmp_path: Path) -> None:
    """since is inclusive, until exclusive; out-of-range pages are counted, not emitted."""
    for hour in (8, 9, 10):
        (tmp_path / f"{hour}.txt").write_text(f"page {hour}")
        meta = {"fetched_at": f"2024-09-03T{hour:02d}:00:00Z"}
        (tmp_path / f"{hour}.txt.json").write_text(json.dumps(meta))
    source = ReplaySource(
        [tmp_path],
        run_id="t",
        since=datetime(2024, 9, 3, 9, tzinfo=UTC),
        until=datetime(2024, 9, 3, 10),  # naive: read as UTC
    )
    assert [i.page.body for i in source] == [b"page 9"]
    assert source.stats["skip.out_of_range"] == 2


def test_broken_and_foreign_files_are_counted(tmp_path: Path) -> None:
    """A bad gzip, a bad sidecar and an image are counted; the good capture still replays."""
    (tmp_path / "bad.html.gz").write_bytes(b"\x1f\x8b\x08not gzip")
    (tmp_path / "ok.txt").write_text("fine")
    (tmp_path / "ok.txt.json").write_text("{not json")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    source = ReplaySource([tmp_path], run_id="t")
    [item] = list(source)
    assert item.page.body == b"fine" and item.page.final_url == "https://replay.invalid/ok.txt"
    assert source.stats["skip.broken.bad_file"] == 1
    assert source.stats["skip.broken.meta"] == 1
    assert source.stats["skip.not_article"] == 1
