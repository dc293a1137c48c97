"""Pure decisions of cluster mode: which feeds an instance owns, how a rebalance moves them."""

from __future__ import annotations

import pytest

from daemon.cluster import codec
from daemon.cluster.table import FeedTable, moves
from daemon.records import FeedSpec
from daemon.sources.feedstate import FeedState


def record(feed_id: str, **flags: bool) -> codec.FeedRecord:
    return codec.FeedRecord(FeedSpec(feed_id, f"http://127.0.0.1/{feed_id}.xml"), **flags)


def test_an_instance_owns_exactly_the_feeds_of_its_partitions():
    """Records of partitions not held are ignored; the feed set lists held partitions only."""
    table = FeedTable()
    table.hold({0, 2})
    assert table.update(0, "a", record("a"))
    assert not table.update(1, "b", record("b"))  # partition 1 belongs to another instance
    assert table.update(2, "c", record("c"))
    assert [s.feed_id for s in table.feed_set().specs] == ["a", "c"]
    assert table.feeds_in({2}) == {"c"}


def test_the_latest_record_of_a_feed_wins_and_a_tombstone_removes_it():
    """A compacted topic read as a table: the last value per key, None deletes the key."""
    table = FeedTable()
    table.hold({0})
    table.update(0, "a", record("a"))
    assert not table.update(0, "a", record("a"))  # the same record again changes nothing
    assert table.update(0, "a", record("a", paused=True))
    assert table.feed_set().paused == {"a"}
    assert table.update(0, "a", None)
    assert table.feed_set().specs == ()
    assert not table.update(0, "a", None)


def test_dropping_a_revoked_partition_forgets_its_feeds():
    """After a revocation none of the partition's feeds is owned any more."""
    table = FeedTable()
    table.hold({0, 1})
    table.update(0, "a", record("a"))
    table.update(1, "b", record("b"))
    table.drop({0})
    assert table.feed_ids() == {"b"}
    assert table.partitions == {1}


def test_a_resume_unretires_once():
    """`feeds resume` asks for an un-retire once; later hand-overs do not repeat it."""
    table = FeedTable()
    table.hold({0})
    table.update(0, "a", record("a", unretire=True))
    assert table.feed_set().unretire == {"a"}
    table.unretired()
    assert table.feed_set().unretire == frozenset()


@pytest.mark.parametrize(
    ("before", "after", "gained", "lost", "kept"),
    [
        pytest.param({"a", "b"}, {"b", "c"}, {"c"}, {"a"}, {"b"}, id="one-moves-each-way"),
        pytest.param(set(), {"a"}, {"a"}, set(), set(), id="first-assignment"),
        pytest.param({"a"}, set(), set(), {"a"}, set(), id="everything-revoked"),
        pytest.param({"a"}, {"a"}, set(), set(), {"a"}, id="nothing-moves"),
    ],
)
def test_moves_name_what_to_restore_and_what_to_release(before, after, gained, lost, kept):
    """Gained feeds get their cursor restored, lost ones are released, kept ones go on."""
    result = moves(before, after)
    assert (result.gained, result.lost, result.kept) == (gained, lost, kept)


def test_feed_records_and_cursors_round_trip():
    """What one instance writes to the cluster topics, another reads back unchanged."""
    spec = FeedSpec("a", "http://127.0.0.1/a.xml", publisher="P", tags=("x", "y"))
    feed = codec.FeedRecord(spec, paused=True)
    assert codec.decode_feed(codec.encode_feed(feed)) == feed
    assert codec.decode_feed(None) is None
    state = FeedState("a", spec.url, etag='"v1"', error_streak=2, next_poll_at=12.5)
    cursor = codec.decode_cursor(codec.encode_cursor(state, {"g1": None, "g2": "2026-01-01"}))
    assert cursor.state == state
    assert cursor.seen == (("g1", None), ("g2", "2026-01-01"))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[1, 2]", id="not-an-object"),
        pytest.param(b'{"spec": {"url": "http://x/"}}', id="no-feed-id"),
        pytest.param(b'{"spec": "a"}', id="spec-not-an-object"),
    ],
)
def test_a_bad_feed_value_is_a_clear_error(value):
    """A record that does not decode raises ValueError (the readers count it and skip it)."""
    with pytest.raises(ValueError, match="feed"):
        codec.decode_feed(value)


def test_a_bad_cursor_value_is_a_clear_error():
    """Seen keys must be [key, updated] pairs."""
    bad = b'{"state": {"feed_id": "a", "url": "http://x/"}, "seen": [["k"]]}'
    with pytest.raises(ValueError, match="seen"):
        codec.decode_cursor(bad)
