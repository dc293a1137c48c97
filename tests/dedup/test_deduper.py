"""The Deduper stage: given these articles in this order, these verdicts."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from daemon.dedup.deduper import Deduper
from daemon.dedup.keys import content_hash, event_id
from daemon.errors import Skip
from daemon.events import article_event
from daemon.records import Article
from daemon.settings import DedupSettings
from daemon.state.sqlite import Store
from tests.dedup import variants as v
from tests.dedup.conftest import Clock

Make = Callable[..., Article]


async def publish(deduper: Deduper, article: Article) -> Any:
    verdict = await deduper.decide(article)
    await deduper.commit(article, verdict)
    return verdict


async def test_reposts_of_real_texts_are_caught(
    deduper: Deduper, bodies: list[str], article: Make
) -> None:
    """Chrome, new headline, 10 % edited, truncated to 60 %, wire credit, all at once: caught."""
    rng = random.Random(3)
    for i, body in enumerate(bodies):
        original = await publish(deduper, article(body, f"https://a.example/{i}"))
        assert original.kind == "new"
        for name, text in v.variants(body, rng).items():
            copy = await deduper.decide(article(text, f"https://b.example/{name}/{i}"))
            assert (copy.kind, copy.duplicate_of, name) == ("duplicate", original.cluster_id, name)


async def test_wire_credit_is_stored_on_the_cluster(
    deduper: Deduper, bodies: list[str], article: Make
) -> None:
    """A repost with a dateline credits the cluster; later reposts inherit the agency."""
    await publish(deduper, article(bodies[0], "https://a.example/1"))
    credited = await publish(deduper, article(v.with_wire_credit(bodies[0]), "https://b.example/1"))
    plain = await deduper.decide(article(v.with_chrome(bodies[0]), "https://c.example/1"))
    assert (credited.syndication, plain.syndication, plain.cluster_size) == ("EFE", "EFE", 3)


async def test_same_event_articles_are_never_merged(
    deduper: Deduper, seeds: dict[str, str], same_story_pairs: list[dict[str, Any]], article: Make
) -> None:
    """Seeds 002/003 (one event, two outlets) and SemEval same-story pairs stay apart."""
    pairs = [(seeds["002"], seeds["003"])] + [(p["text1"], p["text2"]) for p in same_story_pairs]
    for i, (first, second) in enumerate(pairs):
        await publish(deduper, article(first, f"https://a.example/{i}"))
        verdict = await deduper.decide(article(second, f"https://b.example/{i}"))
        assert verdict.kind == "new"


@pytest.mark.parametrize("words", [60, 80, 120])
async def test_shared_boilerplate_footer_is_not_a_repost(
    deduper: Deduper, bodies: list[str], article: Make, words: int
) -> None:
    """Two different short items that share one long press-release footer are not merged."""
    first, second = v.boilerplate_pair(bodies[0], bodies[4], v.FOOTERS[0], words)
    await publish(deduper, article(first, "https://a.example/1"))
    assert (await deduper.decide(article(second, "https://b.example/1"))).kind == "new"


async def test_exact_text_at_another_url_is_a_duplicate(
    deduper: Deduper, bodies: list[str], article: Make
) -> None:
    """Same normalized text elsewhere: a duplicate with similarity 1.0."""
    first = await publish(deduper, article(bodies[1], "https://a.example/1"))
    copy = await deduper.decide(article(bodies[1].upper(), "https://b.example/2"))
    assert (copy.kind, copy.duplicate_of, copy.similarity) == ("duplicate", first.cluster_id, 1.0)


@pytest.mark.parametrize("cache_bytes", [0, 1 << 20], ids=["computed", "borrowed"])
async def test_exact_copy_stores_what_its_text_gives(
    store: Store, clock: Clock, bodies: list[str], article: Make, cache_bytes: int
) -> None:
    """An exact copy (borrowing the original's shingles, or computing them) is stored with the
    shingles and signature its own text gives, and later copies are found through it."""
    deduper = Deduper(DedupSettings(), store, clock=clock, shingle_cache_bytes=cache_bytes)
    await deduper.start()
    text = bodies[1]
    first = await publish(deduper, article(text, "https://a.example/1"))
    await publish(deduper, article("  " + text.replace(" ", "\n "), "https://b.example/2"))
    rows = await store.run(
        lambda conn: conn.execute(
            "SELECT signature, shingles, n_shingles FROM dedup_docs"
        ).fetchall()
    )
    assert len(rows) == 2 and rows[0] == rows[1]
    restarted = Deduper(DedupSettings(), store, clock=clock)
    await restarted.start()
    copy = await restarted.decide(article(v.with_chrome(text), "https://c.example/3"))
    assert (copy.kind, copy.cluster_id, copy.cluster_size) == ("duplicate", first.cluster_id, 3)


async def test_new_cluster_id_is_the_event_id(
    deduper: Deduper, bodies: list[str], article: Make
) -> None:
    """A new article's cluster is its own event id (the value the event carries)."""
    verdict = await deduper.decide(article(bodies[2], "https://a.example/x"))
    assert verdict.cluster_id == event_id("https://a.example/x", content_hash(bodies[2]))


async def test_update_then_unchanged(deduper: Deduper, bodies: list[str], article: Make) -> None:
    """Changed text at the same URL: one `updated` (revision 2); an unchanged re-fetch: Skip."""
    first = await publish(deduper, article(bodies[3], "https://a.example/u"))
    corrected = bodies[3] + "\n\nCorrection: an earlier version misspelled a name."
    with capture_logs() as logs:
        update = await publish(deduper, article(corrected, "https://a.example/u"))
    assert (update.kind, update.revision, update.cluster_id) == ("updated", 2, first.cluster_id)
    assert update.previous_similarity is not None and 0.9 < update.previous_similarity < 1
    assert any(e["event"] == "dedup.updated" for e in logs)
    with pytest.raises(Skip, match="unchanged"):
        await deduper.decide(article(corrected, "https://a.example/u"))
    assert deduper.counts["updated"] == 1 and deduper.counts["unchanged"] == 1


async def test_same_guid_same_text_is_unchanged(
    deduper: Deduper, bodies: list[str], article: Make
) -> None:
    """A re-listed feed item (same GUID, same feed, other URL spelling) emits nothing."""
    await publish(deduper, article(bodies[0], "https://a.example/1", guid="g-1"))
    with pytest.raises(Skip):
        await deduper.decide(article(bodies[0], "https://a.example/1?page=1", guid="g-1"))


async def test_release_forgets_a_pending_document(
    deduper: Deduper, bodies: list[str], article: Make
) -> None:
    """decide() then release(): the same article decides `new` again (never its own duplicate)."""
    doc = article(bodies[0], "https://a.example/1")
    first = await deduper.decide(doc)
    await deduper.release(doc, first)
    again = await deduper.decide(doc)
    assert (first.kind, again.kind, again.cluster_id) == ("new", "new", first.cluster_id)


async def test_pending_copy_is_recognised(
    deduper: Deduper, bodies: list[str], article: Make
) -> None:
    """Copy B decided while A is still pending (not acknowledged) is a duplicate of A."""
    a = await deduper.decide(article(bodies[5], "https://a.example/1"))
    b = await deduper.decide(article(v.truncated(bodies[5]), "https://b.example/1"))
    assert (b.kind, b.duplicate_of, b.cluster_size) == ("duplicate", a.cluster_id, 2)


async def test_short_texts_match_exactly_only(deduper: Deduper, article: Make) -> None:
    """Below min_shingles a text is never a near-duplicate, only an exact one."""
    short = "Markets closed higher on Friday after a volatile week of trading."
    await publish(deduper, article(short, "https://a.example/1"))
    near = await deduper.decide(article(short + " Oil rose.", "https://b.example/1"))
    exact = await deduper.decide(article(short, "https://c.example/1"))
    assert (near.kind, exact.kind) == ("new", "duplicate")


async def test_reposts_are_caught_from_sqlite_without_a_cache(
    store: Store, clock: Clock, bodies: list[str], article: Make
) -> None:
    """With no room in the shingle cache, candidates are read back from SQLite: same verdicts."""
    deduper = Deduper(DedupSettings(), store, clock=clock, shingle_cache_bytes=0)
    await deduper.start()
    rng = random.Random(3)
    for i, body in enumerate(bodies[:5]):
        original = await publish(deduper, article(body, f"https://a.example/{i}"))
        for name, text in v.variants(body, rng).items():
            copy = await deduper.decide(article(text, f"https://b.example/{name}/{i}"))
            assert (copy.kind, copy.duplicate_of) == ("duplicate", original.cluster_id)


async def test_restart_brings_the_index_back(
    tmp_path: Any, bodies: list[str], article: Make, clock: Clock
) -> None:
    """Close and reopen the store mid-stream: committed documents are known, pending ones not."""
    store = Store(tmp_path / "s.sqlite3")
    await store.open()
    deduper = Deduper(DedupSettings(), store, clock=clock)
    await deduper.start()
    original = await publish(deduper, article(bodies[0], "https://a.example/1"))
    await publish(deduper, article(v.with_chrome(bodies[0]), "https://b.example/1"))
    await deduper.decide(article(bodies[1], "https://a.example/2"))  # never acknowledged
    await store.close()
    store = Store(tmp_path / "s.sqlite3")
    await store.open()
    reborn = Deduper(DedupSettings(), store, clock=clock)
    await reborn.start()
    copy = await reborn.decide(article(v.truncated(bodies[0]), "https://c.example/1"))
    assert (copy.kind, copy.duplicate_of, copy.cluster_size) == (
        "duplicate",
        original.cluster_id,
        3,
    )
    assert (await reborn.decide(article(bodies[1], "https://a.example/2"))).kind == "new"
    with pytest.raises(Skip):
        await reborn.decide(article(bodies[0], "https://a.example/1"))
    await store.close()


async def test_window_expiry(
    deduper: Deduper, bodies: list[str], article: Make, clock: Clock, store: Store
) -> None:
    """Documents older than window_days are forgotten in memory and on disk."""
    await publish(deduper, article(bodies[0], "https://a.example/1"))
    clock.now += 8 * 86_400
    verdict = await deduper.decide(article(v.with_chrome(bodies[0]), "https://b.example/1"))
    assert verdict.kind == "new"
    rows = await store.run(lambda c: c.execute("SELECT count(*) FROM dedup_docs").fetchone()[0])
    assert rows == 0


async def test_items_sharing_a_first_seen_footer_are_not_reposts(
    deduper: Deduper, bodies: list[str], article: Make
) -> None:
    """Two different short items (20-30 words of their own) ending in the same 150-word
    footer, never seen before, are both new; a re-headlined copy of one is still its repost."""
    footer = " ".join(" ".join(bodies[5:]).split()[:150])
    first = " ".join(bodies[0].split()[:30]) + "\n\n" + footer
    second = " ".join(bodies[1].split()[:20]) + "\n\n" + footer
    one = await deduper.decide(article(first, "https://a.example/1"))
    two = await deduper.decide(article(second, "https://b.example/2"))
    copy = await deduper.decide(article("A new headline\n\n" + first, "https://c.example/3"))
    assert (one.kind, two.kind) == ("new", "new")
    assert (copy.kind, copy.cluster_id) == ("duplicate", one.cluster_id)


async def test_a_footer_learned_from_the_stream_weighs_nothing(
    deduper: Deduper, bodies: list[str], article: Make
) -> None:
    """Once a site's footer is in enough new stories, items whose own text is too short for
    the first-pair rule (10 words) are not linked through it; their copies still are."""
    footer = " ".join(" ".join(bodies[5:]).split()[:120])
    texts = [" ".join(b.split()[:10]) + "\n\n" + footer for b in bodies[:5]]
    verdicts = []
    for n, text in enumerate(texts):
        item = article(text, f"https://site.example/{n}")
        verdicts.append(await deduper.decide(item))
        await deduper.commit(item, verdicts[-1])
    copy = await deduper.decide(article(texts[4] + "\n\nShare this story", "https://x.example/c"))
    assert [v.kind for v in verdicts[3:]] == ["new", "new"]
    assert (copy.kind, copy.cluster_id) == ("duplicate", verdicts[4].cluster_id)


async def test_verdict_carries_the_event_id_and_content_hash(
    deduper: Deduper, bodies: list[str], article: Make
) -> None:
    """decide() hashes the text once: the verdict carries the ids the event is built with."""
    item = article(bodies[0], "https://a.example/1")
    verdict = await deduper.decide(item)
    event = article_event(item, verdict)
    assert verdict.content_hash == content_hash(bodies[0])
    assert verdict.event_id == event.event_id == event_id(item.canonical_url, verdict.content_hash)


async def test_commits_are_written_together_before_later_store_work(
    deduper: Deduper, store: Store, bodies: list[str], article: Make
) -> None:
    """commit() does not wait for the disk: documents committed while the store thread is busy
    are written in one transaction, and before any store work queued after commit() returned
    (the feed cursor that marks their entries done), so a crash can only re-decide them."""
    busy, release = threading.Event(), threading.Event()

    def hold(conn: Any) -> None:
        busy.set()
        release.wait(10)

    articles = [article(body, f"https://a.example/{i}") for i, body in enumerate(bodies[:5])]
    verdicts = [await deduper.decide(item) for item in articles]
    held = store.enqueue(hold)
    await asyncio.to_thread(busy.wait, 10)
    for item, verdict in zip(articles, verdicts, strict=True):
        await deduper.commit(item, verdict)
    count = "SELECT count(*) FROM dedup_docs"
    later = asyncio.ensure_future(store.run(lambda c: c.execute(count).fetchone()[0]))
    await asyncio.sleep(0.05)
    assert not later.done()  # nothing was written yet: the thread is still held
    release.set()
    await held
    assert await later == 5  # queued after the commits: it sees all of them
    await deduper.flush()
    assert (deduper.counts["written"], deduper.counts["writes"]) == (5, 1)


async def test_a_failed_write_is_counted_and_logged(
    deduper: Deduper, store: Store, bodies: list[str], article: Make
) -> None:
    """A write the store refuses is counted (write_failed) and logged, not raised to the
    caller that committed (the event is out already)."""
    refuse = (
        "CREATE TRIGGER refuse BEFORE INSERT ON dedup_docs BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    await store.run(lambda c: c.execute(refuse))
    with capture_logs() as logs:
        await publish(deduper, article(bodies[0], "https://a.example/1"))
        await deduper.flush()
    assert deduper.counts["write_failed"] == 1
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["dedup.write_failed"]
