"""The pure parts of cluster mode: the article record, the offset ledger, the replay order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from daemon.cluster import changelog
from daemon.cluster.articlecodec import (
    ArticleCodecError,
    Carried,
    FileDone,
    Position,
    decode,
    encode,
    encode_done,
)
from daemon.cluster.ledger import OffsetLedger
from daemon.cluster.replayorder import ReplayOrder
from daemon.records import Article, ArticleFields, FeedEntry, FeedSource, Origin


def full_article() -> Article:
    source = FeedSource("Example Times", "DE", "de", ("politics", "world"))
    entry = FeedEntry(
        origin=Origin("feed", "example-feed", "http://example.test/feed", source),
        url="http://example.test/a?utm_source=x",
        guid="guid-1",
        title="Feed title",
        published_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        updated_at=datetime(2026, 1, 2, 4, 0, tzinfo=UTC),
        summary="<p>summary</p>",
        content="<p>content</p>",
        authors=("A. Writer", "B. Writer"),
        language="de",
        is_update=True,
    )
    fields = ArticleFields(
        title="Headline",
        summary="Summary",
        authors=("A. Writer",),
        language="de",
        published_at=datetime(2026, 1, 2, 1, 4, 5, 123456, tzinfo=UTC),
        published_at_precision="second",
        modified_at=datetime(2026, 1, 3, tzinfo=UTC),
        site_name="Example",
        section="World",
        article_type="news",
        access="free",
        image="http://example.test/i.jpg",
        tags=("a", "b"),
        syndication="AP",
    )
    return Article(
        entry=entry,
        url="http://example.test/a",
        canonical_url="http://example.test/a",
        text="First paragraph.\n\nSecond paragraph — ünïcödé.",
        fetched_at=datetime(2026, 1, 2, 5, 6, 7, 891011, tzinfo=UTC),
        extraction="ok",
        fields=fields,
    )


def test_an_article_survives_the_internal_topic_unchanged() -> None:
    """Every field of an article (nested records, tuples, datetimes with offsets) comes back
    equal, with its replay position."""
    article = full_article()
    carried = decode(encode(article, Position("run-1", 2, 7)))
    assert carried == Carried(article, Position("run-1", 2, 7))
    assert isinstance(carried, Carried) and carried.article.entry.published_at is not None
    assert carried.article.entry.published_at.utcoffset() == timedelta(hours=2)


def test_end_of_file_markers_round_trip() -> None:
    """A replay worker's end-of-file marker decodes to the same marker."""
    assert decode(encode_done(FileDone("run-1", 3, 12))) == FileDone("run-1", 3, 12)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"v": 2, "url": "x"}', "unknown_version"),
        (b"not json", "unreadable"),
        (b'{"v": 1, "url": "x"}', "unreadable"),
        (b"[1, 2]", "unknown_version"),
    ],
)
def test_a_record_that_is_not_an_article_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    """Unknown versions and broken records raise ArticleCodecError naming why."""
    with pytest.raises(ArticleCodecError) as caught:
        decode(raw)
    assert caught.value.reason == reason


def test_changelog_doc_records_carry_the_article_and_its_decision() -> None:
    """A doc record reads back as the article, its verdict kind and the time it was decided."""
    article = full_article()
    key, value = changelog.doc_record(article, "duplicate", "e1", 1234.5)
    assert key == b"e1"
    assert changelog.read(key, value) == changelog.DocEntry(article, "duplicate", 1234.5)
    assert changelog.read(key, None) is None
    run_key, run_value = changelog.progress_record(changelog.RunProgress("r", 3))
    assert changelog.read(run_key, run_value) == changelog.RunProgress("r", 3)


def test_the_ledger_commits_below_the_lowest_outstanding_offset() -> None:
    """Records settle out of order; the position is the lowest offset not yet done."""
    ledger = OffsetLedger()
    assert ledger.position() is None
    for offset in (10, 11, 12, 13):
        ledger.taken(offset)
    ledger.settled(12, True)
    assert ledger.position() == 10
    ledger.settled(10, True)
    assert ledger.position() == 11
    ledger.settled(11, True)
    ledger.settled(13, True)
    assert ledger.position() == 14


def test_a_record_not_done_holds_the_position_and_is_reported() -> None:
    """A record settled not done stays outstanding (redelivered) and sets `failed`."""
    ledger = OffsetLedger()
    for offset in (0, 1, 2):
        ledger.taken(offset)
    ledger.settled(1, False)
    ledger.settled(0, True)
    ledger.settled(2, True)
    assert (ledger.position(), ledger.failed) == (1, 1)


def test_replayed_articles_wait_for_every_earlier_file() -> None:
    """Files 1 and 2 arrive first; they are released in file order once file 0 (then 1) ends;
    live articles never wait."""
    order: ReplayOrder[str] = ReplayOrder()
    assert order.article(Position("r", 2, 0), "c0") == []
    assert order.article(Position("r", 1, 0), "b0") == []
    assert order.article(None, "live") == ["live"]
    assert order.article(Position("r", 0, 0), "a0") == ["a0"]
    assert order.file_done("r", 1) == []
    assert order.article(Position("r", 1, 1), "b1") == []
    assert order.file_done("r", 0) == ["b0", "b1", "c0"]
    assert order.next_file("r") == 2
    assert order.article(Position("r", 2, 1), "c1") == ["c1"]


def test_replay_progress_restored_after_a_failover_releases_at_once() -> None:
    """A new owner that restored `next_file` from the changelog does not wait for markers
    the old owner already consumed."""
    order: ReplayOrder[str] = ReplayOrder()
    order.restore("r", 2)
    assert order.article(Position("r", 1, 5), "late") == ["late"]
    assert order.article(Position("r", 2, 0), "now") == ["now"]
    assert order.article(Position("r", 3, 0), "later") == []
    assert order.held == 1
