"""One dedup view across instances: instances forward extracted articles to the internal topic,
one owner decides them all, and a new owner goes on exactly where a dead one stopped."""

from __future__ import annotations

import asyncio
import signal
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.cluster.articles import ArticleForwarder, dedup_topic
from daemon.dedup.fingerprint import FingerprintParams, fingerprint
from daemon.extract.result import paragraphs
from daemon.records import Article, ArticleFields, FeedEntry, Origin
from daemon.settings import Settings
from daemon.stories.terms import lead_terms
from tests.cluster.conftest import (
    instance,
    owner,
    owner_process,
    public_events,
    settings_for,
    text_page,
)
from tests.conftest import SEEDS, consume
from tests.daemon_process import article_text
from tests.test_e2e_dedup import repost_of


def seed_texts(count: int) -> list[str]:
    return [p.read_text() for p in sorted(SEEDS.glob("*.txt"))[:count]]


def assert_one_view(events: list[dict[str, Any]]) -> None:
    """Every URL under exactly one event id; no event both new and a duplicate; no event a
    duplicate of itself."""
    ids_by_url: defaultdict[str, set[str]] = defaultdict(set)
    types_by_id: defaultdict[str, set[str]] = defaultdict(set)
    for event in events:
        ids_by_url[event["url"]].add(event["event_id"])
        types_by_id[event["event_id"]].add(event["type"])
        assert event.get("duplicate_of") != event["event_id"]
    assert all(len(ids) == 1 for ids in ids_by_url.values()), ids_by_url
    assert all(len(types) == 1 for types in types_by_id.values()), types_by_id


async def test_a_repost_through_instance_b_is_a_duplicate_of_the_original_through_a(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    """Instance A extracts the original, instance B (its own state) a repost on another site;
    the owner links B's copy to A's event."""
    original = seed_texts(1)[0]
    settings_a = settings_for(overrides, tmp_path / "a")
    settings_b = settings_for(overrides, tmp_path / "b")
    async with owner(settings_a):
        async with instance(settings_a) as (a, _):
            await a.pipeline.feed_page(text_page("http://a.test/story", original, "site-a"))
            assert await a.pipeline.drain(timeout=30)
        async with instance(settings_b) as (b, _):
            copy = repost_of(original)
            await b.pipeline.feed_page(text_page("http://b.test/copy", copy, "site-b"))
            assert await b.pipeline.drain(timeout=30)
        events = await public_events(settings_a, expect=2)
    by_type = {event["type"]: event for event in events}
    assert len(events) == 2 and set(by_type) == {"article.new", "article.duplicate"}
    new, dup = by_type["article.new"], by_type["article.duplicate"]
    assert new["url"] == "http://a.test/story" and dup["url"] == "http://b.test/copy"
    assert dup["duplicate_of"] == new["event_id"] == dup["cluster_id"]
    assert dup["cluster_size"] == 2


async def changelog_documents(bootstrap: str, topic: str, *, at_least: int) -> int:
    """Wait (up to a minute) until the changelog holds `at_least` documents; their count.

    Barrier records and their tombstones (written by every rebuild) are not documents."""
    documents = 0
    async with asyncio.timeout(60):
        while documents < at_least:
            records = await consume(bootstrap, topic, expect=10_000, timeout=1.0)
            documents = sum(
                1 for r in records if r.value is not None and not r.key.startswith(b"barrier:")
            )
    return documents


def expected_links(events: list[dict[str, Any]], pairs: dict[str, str]) -> None:
    """Each repost URL (key) is a duplicate of the event of its original URL (value)."""
    id_of = {event["url"]: event["event_id"] for event in events}
    for event in events:
        if event["url"] in pairs:
            assert event["type"] == "article.duplicate", event["url"]
            assert event["duplicate_of"] == id_of[pairs[event["url"]]]
        else:
            assert event["type"] == "article.new", event["url"]


async def test_the_owner_killed_mid_stream_fails_over_with_one_view(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    """SIGKILL the owner process while it decides; a second owner rebuilds from the changelog
    and takes the rest: every article is on the public topics, each under one event id, never
    both new and a duplicate, and the reposts of originals the first owner decided are still
    linked to them."""
    texts = seed_texts(5)
    assert len(texts) == 5
    originals = [text_page(f"http://a.test/{i}", t, "site-a") for i, t in enumerate(texts)]
    reposts = [text_page(f"http://b.test/{i}", repost_of(t), "site-b") for i, t in enumerate(texts)]
    pairs = {f"http://b.test/{i}": f"http://a.test/{i}" for i in range(len(texts))}
    first = [*originals[:3], reposts[0], reposts[1], *originals[3:]]
    rest = reposts[2:]
    settings = settings_for(overrides, tmp_path / "a")
    boot = settings.kafka.bootstrap_servers or ""
    async with instance(settings) as (rt, _):
        dead = await owner_process(overrides, tmp_path / "owner.json")
        try:
            for page in first:
                await rt.pipeline.feed_page(page)
            assert await rt.pipeline.drain(timeout=60)
            # kill once the changelog holds a few documents: the survivor must rebuild them
            assert await changelog_documents(boot, dedup_topic(settings), at_least=3) >= 3
        finally:
            dead.send_signal(signal.SIGKILL)
            await dead.wait()
        for page in rest:
            await rt.pipeline.feed_page(page)
        assert await rt.pipeline.drain(timeout=30)
        async with owner(settings) as survivor:
            events = await public_events(settings, expect=10, timeout=60)
    assert survivor.terms == 1
    assert survivor.metrics.snapshot()["owner.rebuilt_docs"] >= 3
    assert {event["url"] for event in events} == {p.final_url for p in originals + reposts}
    assert_one_view(events)
    expected_links(events, pairs)


async def test_a_redelivered_article_after_failover_keeps_its_event(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    """A new owner whose group committed nothing gets every article again: rebuilt from the
    changelog, it recognises each as already published (skip `unchanged`) and publishes no
    second event: same event ids, no duplicate of itself."""
    texts = seed_texts(2)
    pages = [text_page(f"http://a.test/{i}", t, "site-a") for i, t in enumerate(texts)]
    pages.append(text_page("http://b.test/0", repost_of(texts[0]), "site-b"))
    settings = settings_for(overrides, tmp_path / "a")
    async with instance(settings) as (rt, _), owner(settings):
        for page in pages:
            await rt.pipeline.feed_page(page)
        assert await rt.pipeline.drain(timeout=30)
        before = await public_events(settings, expect=3)
    fresh_group = overrides | {"cluster": overrides["cluster"] | {"group": "a-new-group"}}
    settings_2 = settings_for(fresh_group, tmp_path / "b")
    async with owner(settings_2) as second:
        for _ in range(100):
            if second.metrics.snapshot().get("dedup.skip.unchanged", 0) >= 3:
                break
            await asyncio.sleep(0.1)
    after = await public_events(settings, expect=4, timeout=1)
    assert second.metrics.snapshot().get("dedup.skip.unchanged") == 3
    assert sorted(e["event_id"] for e in after) == sorted(e["event_id"] for e in before)
    assert len(before) == 3
    assert_one_view(after)


def fresh(overrides: dict[str, Any], tag: str) -> dict[str, Any]:
    """The same cluster settings with a group and topics of its own."""
    kafka, cluster = overrides["kafka"], overrides["cluster"]
    return overrides | {
        "kafka": kafka | {"topics": kafka["topics"] | {"prefix": tag + kafka["topics"]["prefix"]}},
        "cluster": cluster
        | {"group": tag + cluster["group"], "topic_prefix": tag + cluster["topic_prefix"]},
    }


def forwarded(settings: Settings, carry: bool) -> list[Article]:
    """Three originals and two reposts as an instance forwards them: with the fingerprint and
    lead terms its extraction worker computed (`carry`), or without (an older instance)."""
    texts = [paragraphs(t) for t in seed_texts(3)]
    made = [(f"http://a.test/{i}", t) for i, t in enumerate(texts)]
    made += [(f"http://b.test/{i}", paragraphs(repost_of(t))) for i, t in enumerate(texts[:2])]
    params = FingerprintParams.of(settings.dedup)
    articles = []
    for url, text in made:
        entry = FeedEntry(origin=Origin("feed", url.split("/")[2]), url=url,
                          published_at=datetime(2026, 1, 1, 12, tzinfo=UTC))  # fmt: skip
        articles.append(Article(
            entry=entry, url=url, canonical_url=url, text=text,
            fetched_at=datetime(2026, 1, 1, 12, tzinfo=UTC), extraction="ok",
            fields=ArticleFields(title=text.splitlines()[0], language="en"),
            fingerprint=fingerprint(text, params) if carry else None,
            lead_terms=lead_terms(text, "en") if carry else None,
        ))  # fmt: skip
    return articles


async def decided(settings: Settings, articles: list[Article]) -> tuple[list[dict[str, Any]], int]:
    """The public events one owner publishes for `articles`, and how many fingerprints it
    took from the records instead of computing them."""
    forwarder = ArticleForwarder(settings)
    await forwarder.start()
    try:
        await asyncio.gather(*[await forwarder(article) for article in articles])
    finally:
        await forwarder.close()
    async with owner(settings) as member:
        events = await public_events(settings, expect=len(articles), settle=0.5)
        assert member.term is not None
        attached = member.term.deduper.inner.counts["fingerprint_attached"]
    return events, attached


async def test_an_owner_fed_carried_records_decides_as_one_fed_old_records(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    """Records carrying the worker's fingerprint and lead terms give exactly the events (ids,
    verdicts, links, clusters, stories) that records without them give, and the owner used the
    carried fingerprints instead of computing them."""
    old = settings_for(fresh(overrides, "old"), tmp_path / "old")
    new = settings_for(fresh(overrides, "new"), tmp_path / "new")
    events_old, attached_old = await decided(old, forwarded(old, carry=False))
    events_new, attached_new = await decided(new, forwarded(new, carry=True))
    assert (attached_old, attached_new) == (0, 5)
    assert len(events_new) == 5 and {e["type"] for e in events_new} == {
        "article.new", "article.duplicate"}  # fmt: skip
    assert stable(events_new) == stable(events_old)


def stable(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events by URL (the public topics are read one after another), without the fields
    that name the moment they were published."""
    moment = {"time", "published_to_kafka_at"}
    by_url = sorted(events, key=lambda event: str(event["url"]))
    return [{k: v for k, v in event.items() if k not in moment} for event in by_url]


def made_up(count: int) -> list[Article]:
    """`count` new articles (no two share a word 5-gram) from one site, as an instance
    forwards them: without a carried fingerprint."""
    articles = []
    for n in range(count):
        url, text = f"http://a.test/{n}", "\n".join(article_text(n))
        entry = FeedEntry(origin=Origin("feed", "site-a"), url=url,
                          published_at=datetime(2026, 1, 1, 12, tzinfo=UTC))  # fmt: skip
        articles.append(Article(
            entry=entry, url=url, canonical_url=url, text=text,
            fetched_at=datetime(2026, 1, 1, 12, tzinfo=UTC), extraction="ok",
            fields=ArticleFields(title=f"Story {n}", language="en"),
        ))  # fmt: skip
    return articles


async def test_a_revoked_owner_decides_nothing_more_of_the_batch_it_holds(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    """The group revokes the partition while the owner still holds records of a fetched batch
    (its pipeline takes one article at a time): the revocation ends the term, and the owner
    begins no other term for the rest of that batch (the group's next owner decides it), so
    two owners never decide at once.  The next owner publishes the rest: each article once."""
    count = 20
    slow = overrides | {"pipeline": overrides["pipeline"] | {"reorder_window": 1}}
    settings = settings_for(slow, tmp_path / "a")
    forwarder = ArticleForwarder(settings)
    await forwarder.start()
    try:
        await asyncio.gather(*[await forwarder(article) for article in made_up(count)])
    finally:
        await forwarder.close()
    async with owner(settings) as member:
        for _ in range(6000):  # the term begins with the first record of the batch
            if member.term is not None:
                break
            await asyncio.sleep(0.01)
        await member.revoked([member.partition])  # as the coordinator does when a rebalance begins
        at_revocation = member.metrics.snapshot().get("dedup.new", 0)
        await asyncio.sleep(3)  # a second term would have decided the rest by now
        assert member.metrics.snapshot().get("dedup.new", 0) == at_revocation
        assert (member.terms, member.term) == (1, None)
    assert 0 < at_revocation < count
    async with owner(settings) as successor:
        events = await public_events(settings, expect=count, timeout=60)
    assert successor.terms == 1
    assert len({e["event_id"] for e in events}) == len(events) == count
    assert {e["type"] for e in events} == {"article.new"}
