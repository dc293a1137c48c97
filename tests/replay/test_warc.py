"""WARC replay: record types, revisits, broken records, and every corpus WARC survives."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from daemon.replay.source import ReplaySource
from daemon.replay.warc import WarcReader, warc_time

CORPUS_WARCS = (
    "solrwayback-test-warcs",
    "l3s-gn1-reconstructed-warc",
    "warcio-test-data",
    "jwarc-test-resources",
    "resiliparse-warc-test-data",
    "webarchive-discovery-test-warcs",
    "commoncrawl-news-crawl-test-resources",
    "commoncrawl-whirlwind-sample",
)
_ARCHIVE_MARKERS = (".warc", ".arc")


def _read(path: Path) -> tuple[list[str], Counter[str]]:
    stats: Counter[str] = Counter()
    urls = [c.final_url for c in WarcReader(stats).read(path)]
    return urls, stats


def test_response_request_and_revisit(fixtures: Path) -> None:
    """The response and its revisit both become pages with the same body; requests are counted."""
    source = ReplaySource([fixtures / "example.warc.gz"], run_id="t")
    pages = [item.page for item in source]
    assert [p.final_url for p in pages] == ["http://example.com/", "http://example.com/"]
    assert pages[0].body == pages[1].body and b"Example Domain" in pages[0].body
    assert pages[0].fetched_at < pages[1].fetched_at  # each at its own capture time
    assert source.stats["revisit.resolved"] == 1
    assert source.stats["skip.request"] == 2 and source.stats["skip.warcinfo"] == 2


def test_revisit_resolved_across_files(corpora: Path) -> None:
    """Revisits in a later crawl resolve to payloads of an earlier file of the same run."""
    folder = corpora / "webarchive-discovery-test-warcs/warc-indexer/src/test/resources"
    files = sorted((folder / "gov.uk-revisit-warcs").glob("*.warc.gz"))
    alone = ReplaySource(files[1:], run_id="t")
    list(alone)
    together = ReplaySource(files, run_id="t")
    list(together)
    assert alone.stats["revisit.resolved"] == 0 and alone.stats["skip.revisit_unresolved"] > 20
    assert together.stats["revisit.resolved"] >= 20


def test_record_with_wrong_length_is_counted(fixtures: Path) -> None:
    """A record whose Content-Length overruns it is counted broken, not emitted half-read."""
    urls, stats = _read(fixtures / "example-wrong-chunks.warc.gz")
    assert urls == []
    assert stats["skip.broken.truncated"] == 1 and stats["skip.broken.bad_format"] == 1


def test_bad_gzip_member_is_skipped_and_reading_resyncs(tmp_path: Path, fixtures: Path) -> None:
    """A corrupt gzip member between records is counted; the records after it still replay."""
    whole = (fixtures / "example.warc.gz").read_bytes()
    second = whole.index(b"\x1f\x8b\x08", 1)  # start of the second member
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(whole[:second] + b"\x1f\x8b\x08\x00garbage-garbage" + whole[second:])
    urls, stats = _read(damaged)
    assert urls == ["http://example.com/", "http://example.com/"]
    assert sum(n for k, n in stats.items() if k.startswith("skip.broken.")) == 1


def test_whole_file_gzip_is_reread_as_one_stream(fixtures: Path) -> None:
    """A WARC gzipped as one member (not per record) is counted and still read."""
    urls, stats = _read(fixtures / "example-bad-non-chunked.warc.gz")
    assert stats["skip.broken.non_chunked_gzip"] == 1
    assert urls == ["http://example.com/"]


def test_truncated_file_stops_with_a_count(tmp_path: Path, fixtures: Path) -> None:
    """A file cut in the middle of a gzip member yields what came before and counts the rest."""
    whole = (fixtures / "example.warc.gz").read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(whole[: len(whole) - 700])
    urls, stats = _read(cut)
    assert urls[:1] == ["http://example.com/"]
    assert sum(n for k, n in stats.items() if k.startswith("skip.broken.")) >= 1


def test_uncompressed_garbage_between_records_resyncs(tmp_path: Path, fixtures: Path) -> None:
    """Garbage between uncompressed records is skipped up to the next `WARC/` line."""
    plain = gzip.decompress((fixtures / "example.warc.gz").read_bytes())
    _, rest = plain.split(b"\r\n\r\nWARC/", 1)
    damaged = tmp_path / "damaged.warc"
    damaged.write_bytes(b"GARBAGE LINE\r\n\r\nWARC/" + rest)
    urls, stats = _read(damaged)
    assert "http://example.com/" in urls
    assert sum(n for k, n in stats.items() if k.startswith("skip.broken.")) >= 1


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2014-01-03T03:03:21Z", "2014-01-03T03:03:21+00:00"),
        ("2024-09-03T09:30:15.123456Z", "2024-09-03T09:30:15.123456+00:00"),
        ("2013-12-04T15:03Z", "2013-12-04T15:03:00+00:00"),
    ],
)
def test_warc_time(value: str, iso: str) -> None:
    """WARC-Dates, with fractions or truncated, parse to aware UTC datetimes."""
    parsed = warc_time(value)
    assert parsed is not None and parsed.isoformat() == iso


def test_bad_warc_date_is_none() -> None:
    """An impossible WARC-Date (a ClueWeb quirk) is not guessed at."""
    assert warc_time("2008-10-294T05:21:46-0700") is None


@pytest.mark.corpus
def test_every_corpus_warc_replays_with_counted_skips(corpora: Path) -> None:
    """Every WARC/ARC file of the shared corpora replays without an unhandled exception."""
    files = sorted(
        path
        for name in CORPUS_WARCS
        if (corpora / name).is_dir()
        for path in (corpora / name).rglob("*")
        if path.is_file() and any(m in path.name for m in _ARCHIVE_MARKERS)
    )
    assert len(files) >= 30
    totals: Counter[str] = Counter()
    for path in files:
        source = ReplaySource([path], run_id="corpus")
        items = list(source)
        assert source.stats["emitted"] == len(items)
        assert sum(source.stats.values()) > 0, path  # something was read or counted
        totals.update(source.stats)
    assert totals["read.feed"] >= 10  # the archived RSS responses
    assert totals["emitted"] >= 150
    assert totals["revisit.resolved"] >= 1
    assert any(k.startswith("skip.broken.") for k in totals)


@pytest.mark.corpus
def test_archived_rss_responses_parse_into_entries(corpora: Path) -> None:
    """The RSS responses of the 2008 Heritrix crawl parse into feed entries."""
    path = next((corpora / "solrwayback-test-warcs").rglob("*blackbook.warc.gz"))
    source = ReplaySource([path], run_id="t")
    list(source)
    assert source.stats["read.feed"] == 9
    assert source.stats["read.entries"] >= 100


@pytest.mark.corpus
def test_l3s_news_pages_come_from_resource_records(corpora: Path) -> None:
    """The 40 L3S-GN1 news pages replay from resource records; conversions are skipped."""
    path = corpora / "l3s-gn1-reconstructed-warc" / "L3S-GN1-subset-reconstructed.warc.gz"
    source = ReplaySource([path], run_id="t")
    pages = [item.page for item in source]
    assert len(pages) == 40 and source.stats["skip.conversion"] == 40
    assert all(p.final_url.startswith("http") and p.body for p in pages)
