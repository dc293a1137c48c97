"""The story stage in the pipeline, against the real test broker: story fields on every article
event, summaries on the compacted stories topic, state moved only after acknowledgement."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from datetime import UTC, datetime

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from daemon.dedup.keys import canonical_url, content_hash, event_id
from daemon.errors import SinkError
from daemon.observability.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.records import Article, ArticleFields, FeedEntry, FetchedPage, Origin, Verdict
from daemon.settings import Settings, StoriesSettings
from daemon.sinks.base import OutMessage, Sink
from daemon.sinks.kafka import KafkaSink, topic_names
from daemon.state.sqlite import Store
from daemon.stories.storyteller import Storyteller

from .test_storyteller import ELECTION, IZYUM_A, IZYUM_B

NOW = datetime(2022, 9, 10, 18, tzinfo=UTC)
ORIGIN = Origin("feed", "test-feed", "http://127.0.0.1/feed.xml")
BODIES = {
    "http://a.test/izyum": IZYUM_A,
    "http://b.test/izium": IZYUM_B,
    "http://c.test/sweden": ELECTION,
    "http://d.test/copy": IZYUM_A,
}


class PageFetcher:
    async def __call__(self, entry: FeedEntry) -> FetchedPage:
        body = BODIES[entry.url].encode()
        return FetchedPage(entry, entry.url, 200, "text/plain", body, NOW, is_text_capture=True)


class TextExtractor:
    async def __call__(self, page: FetchedPage) -> Article:
        url = page.final_url
        fields = ArticleFields(language="en", published_at=NOW)
        return Article(page.entry, url, canonical_url(url), page.body.decode(), NOW, "ok", fields)


class TextDeduper:
    """Exact-text dedup: a second copy of a text is a duplicate of the first."""

    def __init__(self) -> None:
        self.first: dict[str, str] = {}

    async def decide(self, article: Article) -> Verdict:
        own = event_id(article.canonical_url, content_hash(article.text))
        original = self.first.setdefault(article.text, own)
        if original != own:
            return Verdict("duplicate", original, duplicate_of=original, cluster_size=2)
        return Verdict("new", own)

    async def commit(self, article: Article, verdict: Verdict) -> None: ...

    async def release(self, article: Article, verdict: Verdict) -> None: ...


class Settled:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    async def __call__(self, entry: FeedEntry, done: bool) -> None:
        self.calls.append((entry.url, done))


async def run(settings: Settings, sink: Sink, teller: Storyteller, settled: Settled) -> Pipeline:
    pipeline = Pipeline(
        settings.pipeline,
        fetcher=PageFetcher(),
        extractor=TextExtractor(),
        deduper=TextDeduper(),
        sink=sink,
        metrics=Metrics(),
        extract_workers=1,  # keep the input order: story ids depend on it
        storyteller=teller,
    )
    pipeline.start()
    for url in BODIES:
        await pipeline.feed(FeedEntry(ORIGIN, url, guid=url, settle=settled))
        assert await pipeline.drain(timeout=20)
    await pipeline.stop()
    return pipeline


async def test_article_events_carry_their_story_and_summaries_reach_the_stories_topic(
    kafka_settings, broker, consume_topic, tmp_path
):
    """Two reports of one event and a repost share the first report's story id (size 3 at the
    end); the stories topic, created compacted, holds summaries keyed by story id."""
    store = Store(tmp_path / "s.sqlite3")
    await store.open()
    teller = Storyteller(StoriesSettings(), store)
    await teller.start()
    sink = KafkaSink(kafka_settings.kafka, broker.bootstrap_servers)
    await sink.start()
    settled = Settled()
    await run(kafka_settings, sink, teller, settled)
    await sink.close()

    topics, boot = topic_names(kafka_settings.kafka.topics), broker.bootstrap_servers
    articles = await consume_topic(boot, topics["articles"], expect=3, settle=0.5)
    reposts = await consume_topic(boot, topics["duplicates"], expect=1, settle=0.5)
    summaries = await consume_topic(boot, topics["stories"], expect=4, settle=0.5)
    events = {e["url"]: e for e in (json.loads(r.value) for r in [*articles, *reposts])}
    first = events["http://a.test/izyum"]["event_id"]
    assert [(events[u]["story_id"], events[u]["story_size"]) for u in BODIES] == [
        (first, 1),
        (first, 2),
        (events["http://c.test/sweden"]["event_id"], 1),
        (first, 3),
    ]
    latest = {r.key.decode(): json.loads(r.value) for r in summaries}
    assert latest[first]["article_count"] == 3
    assert latest[first]["outlets"] == ["a.test", "b.test", "d.test"]
    assert all(dict(r.headers)["ce_type"] == b"io.newsd.story.updated.v1" for r in summaries)
    assert settled.calls == [(u, True) for u in BODIES]
    assert await _cleanup_policy(boot, topics["stories"]) == "compact"
    await store.close()


async def _cleanup_policy(bootstrap: str, topic: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        configs = {entry[0]: entry[1] for entry in response.resources[0][4]}
        return str(configs["cleanup.policy"])
    finally:
        await admin.close()


class RefusingStories:
    """Acknowledges articles but never a story summary."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def start(self) -> None: ...

    async def send(self, message: OutMessage) -> Awaitable[None]:
        self.sent.append(message.channel)

        async def outcome() -> None:
            if message.channel == "stories":
                raise SinkError("kafka_timeout", "no ack", retryable=True)

        return outcome()

    def oversize(self, message: OutMessage) -> int:
        return 0

    async def check(self) -> None: ...

    async def close(self) -> None: ...


async def test_an_unacknowledged_summary_moves_no_story_state(kafka_settings, tmp_path):
    """When the summary is not acknowledged the article is redone: nothing reaches SQLite and
    the story is taken back, so the next report starts the story itself."""
    store = Store(tmp_path / "s.sqlite3")
    await store.open()
    teller = Storyteller(StoriesSettings(), store)
    await teller.start()
    settled = Settled()
    pipeline = await run(kafka_settings, RefusingStories(), teller, settled)
    assert {done for _, done in settled.calls} == {False}
    assert pipeline.metrics.counts["publish.error.kafka_timeout"] == len(BODIES)
    rows = await store.run(lambda c: c.execute("SELECT count(*) FROM story_docs").fetchone())
    assert rows == (0,) and len(teller.index) == 0
    await store.close()
