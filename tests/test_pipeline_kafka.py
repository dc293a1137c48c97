"""The pipeline against the real test broker: ordering, keys, headers, acknowledgement rules.

Fetch, extract and dedup are small in-test stages here so that these tests speak only about the
wiring and the Kafka sink; the real stages have their own tests and the end-to-end test.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from datetime import UTC, datetime

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from daemon.dedup.keys import canonical_url, content_hash, event_id
from daemon.errors import FetchError, SinkError, Skip
from daemon.observability.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.records import Article, FeedEntry, FetchedPage, Origin, Verdict
from daemon.settings import Settings
from daemon.sinks.base import OutMessage
from daemon.sinks.kafka import KafkaSink, topic_names

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ORIGIN = Origin("feed", "test-feed", "http://127.0.0.1/feed.xml")


class PageFetcher:
    def __init__(self, bodies: dict[str, str]) -> None:
        self.bodies = bodies

    async def __call__(self, entry: FeedEntry) -> FetchedPage:
        if entry.url not in self.bodies:
            raise FetchError("http_404", "gone", status=404)
        body = self.bodies[entry.url].encode()
        return FetchedPage(entry, entry.url, 200, "text/plain", body, NOW, is_text_capture=True)


class TextExtractor:
    async def __call__(self, page: FetchedPage) -> Article:
        text = page.body.decode()
        return Article(page.entry, page.final_url, canonical_url(page.final_url), text, NOW, "ok")


class TextDeduper:
    """Exact-text dedup with pending/commit/release, enough to observe the pipeline's calls."""

    def __init__(self) -> None:
        self.pending: dict[str, str] = {}
        self.committed: list[str] = []
        self.released: list[str] = []

    async def decide(self, article: Article) -> Verdict:
        own = event_id(article.canonical_url, content_hash(article.text))
        if article.text == "skip me":
            raise Skip("unchanged")
        original = self.pending.get(article.text)
        if original is not None:
            return Verdict(
                "duplicate", original, duplicate_of=original, similarity=1.0, cluster_size=2
            )
        self.pending[article.text] = own
        return Verdict("new", own)

    async def commit(self, article: Article, verdict: Verdict) -> None:
        self.committed.append(article.url)

    async def release(self, article: Article, verdict: Verdict) -> None:
        self.released.append(article.url)
        self.pending.pop(article.text, None)


class Settled:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    async def __call__(self, entry: FeedEntry, done: bool) -> None:
        self.calls.append((entry.url, done))


def entries(urls: list[str], settled: Settled) -> list[FeedEntry]:
    return [FeedEntry(ORIGIN, url, guid=url, settle=settled) for url in urls]


async def run_pipeline(pipeline: Pipeline, items: list[FeedEntry]) -> None:
    pipeline.start()
    for entry in items:
        await pipeline.feed(entry)
    assert await pipeline.drain(timeout=20)
    await pipeline.stop()


def build(
    settings: Settings, sink: object, deduper: TextDeduper, bodies: dict[str, str]
) -> Pipeline:
    return Pipeline(
        settings.pipeline,
        fetcher=PageFetcher(bodies),
        extractor=TextExtractor(),
        deduper=deduper,
        sink=sink,  # type: ignore[arg-type]
        metrics=Metrics(),
    )


async def test_topics_are_created_explicitly_with_configured_layout(kafka_settings, broker):
    """Starting the sink creates the four prefixed topics with the configured partitions."""
    sink = KafkaSink(kafka_settings.kafka, broker.bootstrap_servers)
    await sink.start()
    await sink.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        names = set(topic_names(kafka_settings.kafka.topics).values())
        assert names <= set(await admin.list_topics())
        described = await admin.describe_topics(sorted(names))
        assert {len(t["partitions"]) for t in described} == {3}
    finally:
        await admin.close()


async def test_originals_reposts_and_failures_reach_their_topics(
    kafka_settings, broker, consume_topic
):
    """An original and its repost share a key (cluster id) and partition; a failed fetch goes to
    the errors topic with its reason; every entry is settled done only after acknowledgement."""
    settled, deduper = Settled(), TextDeduper()
    bodies = {
        "http://a.test/1": "wire story",
        "http://b.test/2": "wire story",
        "http://c.test/3": "other",
    }
    sink = KafkaSink(kafka_settings.kafka, broker.bootstrap_servers)
    await sink.start()
    pipeline = build(kafka_settings, sink, deduper, bodies)
    await run_pipeline(pipeline, entries([*bodies, "http://d.test/missing"], settled))
    await sink.close()

    topics = topic_names(kafka_settings.kafka.topics)
    boot = broker.bootstrap_servers
    originals = await consume_topic(boot, topics["articles"], expect=2, settle=0.5)
    reposts = await consume_topic(boot, topics["duplicates"], expect=1, settle=0.5)
    errors = await consume_topic(boot, topics["errors"], expect=1, settle=0.5)
    assert sorted(json.loads(r.value)["url"] for r in originals) == [
        "http://a.test/1",
        "http://c.test/3",
    ]
    assert len(reposts) == 1 and len(errors) == 1
    original = next(r for r in originals if json.loads(r.value)["url"] == "http://a.test/1")
    repost = json.loads(reposts[0].value)
    assert repost["duplicate_of"] == json.loads(original.value)["event_id"]
    assert reposts[0].key == original.key == repost["cluster_id"].encode()
    assert json.loads(errors[0].value)["reason"] == "http_404"
    headers = dict(original.headers)
    assert headers["ce_specversion"] == b"1.0" and headers["ce_type"] == b"io.newsd.article.new.v1"
    assert headers["ce_id"].decode() == json.loads(original.value)["event_id"]
    assert sorted(settled.calls) == sorted((u, True) for u in [*bodies, "http://d.test/missing"])
    assert sorted(deduper.committed) == sorted(bodies)


class RefusingSink:
    """A sink whose deliveries fail for good, to observe what the pipeline does then."""

    async def start(self) -> None: ...

    async def send(self, message: OutMessage) -> Awaitable[None]:
        async def fail() -> None:
            raise SinkError("kafka_timeout", "no ack", retryable=True)

        return fail()

    def oversize(self, message: OutMessage) -> int:
        return 0

    async def close(self) -> None: ...


async def test_unacknowledged_events_move_no_state_forward(kafka_settings):
    """When the broker never acknowledges, dedup state is released and entries settle not-done
    (they will be redone), so a crash or outage never creates a false duplicate."""
    settled, deduper = Settled(), TextDeduper()
    pipeline = build(kafka_settings, RefusingSink(), deduper, {"http://a.test/1": "story"})
    await run_pipeline(pipeline, entries(["http://a.test/1"], settled))
    assert settled.calls == [("http://a.test/1", False)]
    assert deduper.released == ["http://a.test/1"] and deduper.committed == []
    assert pipeline.metrics.counts["publish.error.kafka_timeout"] == 1


async def test_skipped_records_are_settled_done_and_counted(kafka_settings, broker):
    """A record dropped on purpose (Skip) is done: counted by stage and reason, not redone."""
    settled, deduper = Settled(), TextDeduper()
    sink = KafkaSink(kafka_settings.kafka, broker.bootstrap_servers)
    await sink.start()
    pipeline = build(kafka_settings, sink, deduper, {"http://a.test/1": "skip me"})
    await run_pipeline(pipeline, entries(["http://a.test/1"], settled))
    await sink.close()
    assert settled.calls == [("http://a.test/1", True)]
    assert pipeline.metrics.counts["dedup.skip.unchanged"] == 1


class RecordingSink:
    """Acknowledges every message at once and keeps it, to observe channel and payload."""

    def __init__(self) -> None:
        self.messages: list[OutMessage] = []

    async def start(self) -> None: ...

    async def send(self, message: OutMessage) -> Awaitable[None]:
        self.messages.append(message)

        async def done() -> None:
            return None

        return done()

    def oversize(self, message: OutMessage) -> int:
        return 0

    async def close(self) -> None: ...


class BuggyExtractor(TextExtractor):
    async def __call__(self, page: FetchedPage) -> Article:
        if page.entry.url.endswith("/bug"):
            raise RuntimeError("a bug in a stage")
        return await super().__call__(page)


async def test_a_bug_in_a_stage_costs_one_record_not_the_daemon(kafka_settings):
    """An unexpected exception is counted as internal_error and published to the errors topic;
    the records after it are processed normally."""
    settled, sink = Settled(), RecordingSink()
    bodies = {"http://a.test/bug": "x", "http://a.test/ok": "fine story"}
    pipeline = build(kafka_settings, sink, TextDeduper(), bodies)
    pipeline.extractor = BuggyExtractor()
    await run_pipeline(pipeline, entries(list(bodies), settled))
    channels = sorted(m.channel for m in sink.messages)
    assert channels == ["articles", "errors"]
    error = next(json.loads(m.value) for m in sink.messages if m.channel == "errors")
    assert error["reason"] == "internal_error" and error["stage"] == "extract"
    assert pipeline.metrics.counts["extract.error.internal_error"] == 1
    assert sorted(settled.calls) == [("http://a.test/bug", True), ("http://a.test/ok", True)]


async def test_a_broker_outage_means_redo_never_loss_nor_false_duplicate(tmp_path, consume_topic):
    """With the broker frozen, deliveries fail and every entry settles not-done, its dedup
    state released; once the broker is back the same entries are published as originals (at
    least once: a frozen request may still land, so ids are compared as a set)."""
    from daemon.settings import load
    from daemon.sinks.embedded import EmbeddedBroker, free_port

    broker = EmbeddedBroker("127.0.0.1", free_port())
    broker.start_sync()
    try:
        settings = load(
            None,
            kafka={
                "bootstrap_servers": broker.bootstrap_servers,
                "enable_idempotence": False,
                "linger_ms": 0,
                "request_timeout_ms": 1500,
                "send_retries": 1,
            },
            state={"dir": tmp_path / "state"},
        )
        bodies = {"http://a.test/1": "first story", "http://b.test/2": "second story"}
        deduper = TextDeduper()
        sink = KafkaSink(settings.kafka, broker.bootstrap_servers)
        await sink.start()
        outage = Settled()
        broker.pause()
        try:
            await run_pipeline(
                build(settings, sink, deduper, bodies), entries(list(bodies), outage)
            )
        finally:
            broker.resume()
        assert sorted(outage.calls) == [(url, False) for url in sorted(bodies)]
        assert sorted(deduper.released) == sorted(bodies) and deduper.committed == []

        after = Settled()
        await run_pipeline(build(settings, sink, deduper, bodies), entries(list(bodies), after))
        await sink.close()
        assert sorted(after.calls) == [(url, True) for url in sorted(bodies)]
        records = await consume_topic(
            broker.bootstrap_servers,
            topic_names(settings.kafka.topics)["articles"],
            expect=2,
            settle=1.0,
        )
        events = [json.loads(r.value) for r in records]
        assert {e["url"] for e in events} == set(bodies)
        assert {e["type"] for e in events} == {"article.new"}
        assert len({e["event_id"] for e in events}) == 2
    finally:
        broker.stop_sync()


async def create_topic(boot: str, name: str, max_message_bytes: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=boot)
    await admin.start()
    try:
        config = {"max.message.bytes": str(max_message_bytes)}
        await admin.create_topics([NewTopic(name, 3, 1, topic_configs=config)])
    finally:
        await admin.close()


async def test_message_limit_is_read_from_the_topic_config_else_the_setting(kafka_settings, broker):
    """A topic declaring max.message.bytes sets its channel's limit; the others use
    kafka.max_message_bytes; `oversize` measures a message as aiokafka does."""
    topics = topic_names(kafka_settings.kafka.topics)
    await create_topic(broker.bootstrap_servers, topics["articles"], 50_000)
    sink = KafkaSink(kafka_settings.kafka, broker.bootstrap_servers)
    await sink.start()
    await sink.close()
    default = kafka_settings.kafka.max_message_bytes
    assert sink.limits == {"articles": 50_000, "duplicates": default, "updates": default,
                           "errors": default, "stories": default}  # fmt: skip
    assert sink.oversize(OutMessage("articles", b"k", b"x" * 50_000, ())) > 0
    assert sink.oversize(OutMessage("articles", b"k", b"x" * 49_000, ())) <= 0


async def test_an_article_over_the_message_limit_is_truncated_or_an_error_never_a_retry(
    kafka_settings, broker, consume_topic
):
    """Over the topic's limit: a text of many paragraphs is published cut after a whole
    paragraph, flagged with its original length; a text whose first paragraph alone is too
    long goes to the errors topic as `too_large`.  Both entries are done (not redone)."""
    topics = topic_names(kafka_settings.kafka.topics)
    boot = broker.bootstrap_servers
    await create_topic(boot, topics["articles"], 60_000)
    paragraphs = [f"Paragraph {i}: " + "word " * 200 for i in range(100)]
    long_text = "\n".join(p.strip() for p in paragraphs)
    bodies = {"http://a.test/long": long_text, "http://a.test/wall": "word " * 30_000}
    settled, deduper = Settled(), TextDeduper()
    sink = KafkaSink(kafka_settings.kafka, boot)
    await sink.start()
    pipeline = build(kafka_settings, sink, deduper, bodies)
    await run_pipeline(pipeline, entries(list(bodies), settled))
    await sink.close()
    articles = await consume_topic(boot, topics["articles"], expect=1, settle=0.5)
    errors = await consume_topic(boot, topics["errors"], expect=1, settle=0.5)
    assert len(articles) == 1 and len(articles[0].value) <= 60_000
    event = json.loads(articles[0].value)
    assert event["text_truncated"] is True
    assert event["text_original_length"] == len(long_text)
    assert long_text.startswith(event["text"] + "\n")  # cut at a paragraph boundary
    assert event["content_hash"] == content_hash(long_text)  # ids stay those of the full text
    assert [json.loads(r.value)["reason"] for r in errors] == ["too_large"]
    assert sorted(settled.calls) == [("http://a.test/long", True), ("http://a.test/wall", True)]
    assert deduper.released == ["http://a.test/wall"]
    assert pipeline.metrics.counts["publish.truncated"] == 1


class TooLargeSink(RecordingSink):
    """Refuses every article as too large, as a broker with a lower limit than it described
    would: at enqueue (`at_send`) or in the delivery; error events are acknowledged."""

    def __init__(self, *, at_send: bool) -> None:
        super().__init__()
        self.at_send = at_send

    async def send(self, message: OutMessage) -> Awaitable[None]:
        if message.channel == "errors":
            return await super().send(message)
        if self.at_send:
            raise SinkError("too_large", "refused")

        async def refused() -> None:
            raise SinkError("too_large", "MESSAGE_TOO_LARGE from the broker")

        return refused()


@pytest.mark.parametrize("at_send", [True, False], ids=["at-send", "in-delivery"])
async def test_an_article_the_broker_refuses_as_too_large_is_an_error_not_a_redo(
    kafka_settings, at_send
):
    """A `too_large` refusal is not retried on the next poll: the item goes to the errors
    topic with reason `too_large` and is done; the dedup state is released."""
    settled, deduper, sink = Settled(), TextDeduper(), TooLargeSink(at_send=at_send)
    pipeline = build(kafka_settings, sink, deduper, {"http://a.test/1": "story"})
    await run_pipeline(pipeline, entries(["http://a.test/1"], settled))
    reasons = [json.loads(m.value)["reason"] for m in sink.messages if m.channel == "errors"]
    assert reasons == ["too_large"]
    assert settled.calls == [("http://a.test/1", True)]
    assert deduper.released == ["http://a.test/1"] and deduper.committed == []
