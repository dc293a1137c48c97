"""Events as downstream consumers get them satisfy the schemas and every claim of docs/events.md.

A live `newsd run --once` (seeds served on 127.0.0.1) and a replay of a capture folder (seeds, a
repost, an empty capture, in a folder named `news captures #2`) publish to the real test broker.
Each message is checked with an independent validator (jsonschema, formats included) and against
the page's claims: field presence and order, paragraph separators, dates and their precision,
header values; error events against the ErrorEvent table and the stages/reasons table.  The
page's Python consumer example is run against the same topics.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jsonschema import Draft202012Validator
from rfc3986_validator import validate_rfc3986

from daemon.fetch.hosts import domain_of
from daemon.sinks.kafka import topic_names
from tests.conftest import REPO, SEEDS
from tests.test_e2e import newsd, seeds_server, write_config  # noqa: F401 - a fixture

DOC = (REPO / "docs" / "events.md").read_text()
SCHEMAS = {
    name: json.loads((REPO / "schemas" / f"{name}.v1.json").read_text())
    for name in ("article-event", "error-event", "story-event")
}
FORMATS = Draft202012Validator.FORMAT_CHECKER


def table_after(heading: str) -> list[list[str]]:
    """The rows (cells) of the first Markdown table after `heading` in docs/events.md."""
    text = DOC[DOC.index(heading) :]
    rows = []
    for line in text.splitlines()[1:]:
        if rows and not line.startswith("|"):
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows[1:]  # without the header row


def documented_fields(heading: str) -> list[str]:
    return [row[0].strip("`") for row in table_after(heading)]


ARTICLE_FIELDS = documented_fields("## `ArticleEvent` fields")
ERROR_FIELDS = documented_fields("## `ErrorEvent` fields")
STAGE_REASONS = {
    (row[0].strip("`"), reason)
    for row in table_after("### Stages and reasons")
    for reason in re.findall(r"`([a-z_]+)`", row[1])
}


def validate(event: dict[str, Any], name: str) -> None:
    validator = Draft202012Validator(SCHEMAS[name], format_checker=FORMATS)
    errors = [e.message for e in validator.iter_errors(event)]
    assert errors == [], errors


def headers_of(record: Any) -> dict[str, str]:
    return {key: value.decode() for key, value in record.headers}


def check_headers(record: Any, event: dict[str, Any], name: str) -> None:
    """The header table: values, `ce_dataschema` = the schema's `$id`, a URI-reference source."""
    headers = headers_of(record)
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_id"] == event["event_id"]
    assert headers["ce_type"] == f"io.newsd.{event['type']}.v1"
    assert headers["ce_dataschema"] == SCHEMAS[name]["$id"]
    assert headers["content-type"] == "application/json"
    source = headers["ce_source"]
    assert source == f"/newsd/{event['feed']['kind']}/{quote(event['feed']['id'], safe='')}"
    assert validate_rfc3986(source, rule="URI_reference")
    assert headers["ce_time"].endswith("Z") and FORMATS.conforms(headers["ce_time"], "date-time")


def check_text(text: str) -> None:
    """Paragraphs separated by exactly one blank line; no other line breaks; trimmed."""
    assert text and text == text.strip()
    paragraphs = text.split("\n\n")
    assert all(p and p == p.strip() and "\n" not in p for p in paragraphs), text[:300]


def check_dates(event: dict[str, Any]) -> None:
    published, precision = event["published_at"], event["published_at_precision"]
    assert (published is None) == (precision is None)
    if precision == "day":
        when = datetime.fromisoformat(published)
        assert (when.hour, when.minute, when.second) == (0, 0, 0)
        assert when.utcoffset() == timedelta(0)
    assert datetime.fromisoformat(event["fetched_at"]).year > 1970


def check_article(record: Any) -> dict[str, Any]:
    """One article message against the schema and every claim of docs/events.md."""
    event = json.loads(record.value)
    validate(event, "article-event")
    assert list(event) == ARTICLE_FIELDS  # every documented field, in the documented order
    assert record.key.decode() == event["cluster_id"]
    check_headers(record, event, "article-event")
    check_text(event["text"])
    check_dates(event)
    assert event["word_count"] == len(event["text"].split())
    assert event["domain"] == domain_of(event["canonical_url"])
    assert event["extraction"] != "paywalled"  # reported as `access` since v1.1
    if event["site_name"]:
        assert not re.search(r"©|copyright", event["site_name"], re.I)
        assert event["title"] == event["site_name"] or not event["title"].endswith(
            event["site_name"]
        )
    if event["type"] == "article.duplicate":
        assert event["duplicate_of"] == event["cluster_id"]
    return event


def check_error(record: Any) -> dict[str, Any]:
    event = json.loads(record.value)
    validate(event, "error-event")
    assert list(event) == ERROR_FIELDS
    assert record.key.decode() == event["event_id"]
    check_headers(record, event, "error-event")
    assert (event["stage"], event["reason"]) in STAGE_REASONS
    return event


def test_the_docs_tables_are_read():
    """The checks below read the page itself: its field tables and stage/reason table."""
    assert "published_at_precision" in ARTICLE_FIELDS and "word_count" in ARTICLE_FIELDS
    assert ERROR_FIELDS[-1] == "failed_at"
    assert ("fetch", "not_found") in STAGE_REASONS and ("extract", "empty") in STAGE_REASONS


async def test_live_events_satisfy_the_schema_and_the_docs(
    tmp_path,
    kafka_settings,
    seeds_server,  # noqa: F811 - the fixture
    consume_topic,
):
    """A live run's article events validate and satisfy every documented claim; the feed's
    configured publisher, country and tags reach each event as `source`."""
    config = write_config(tmp_path, kafka_settings, seeds_server.url("/feed.xml"))
    text = config.read_text().replace(
        'publisher = "Seed captures"',
        'publisher = "Seed captures"\ncountry = "US"\ntags = ["wire", "test"]',
    )
    config.write_text(text)
    run = newsd("run", "--once", "--config", str(config), "--state", str(tmp_path / "state"))
    assert run.returncode == 0, run.stderr[-3000:]
    topics = topic_names(kafka_settings.kafka.topics)
    boot = kafka_settings.kafka.bootstrap_servers
    records = await consume_topic(boot, topics["articles"], expect=5, settle=0.5)
    events = [check_article(r) for r in records]
    assert len(events) == 5
    expected = {"publisher": "Seed captures", "country": "US", "language": None}
    assert all(e["source"] == {**expected, "tags": ["wire", "test"]} for e in events)
    assert all(e["feed"]["id"] == "seeds" and e["domain"] == "127.0.0.1" for e in events)
    assert any("\n\n" in e["text"] for e in events)


def capture_folder(tmp_path: Path) -> Path:
    """The seeds, a repost of the first one, and an empty capture, in an awkwardly named folder."""
    folder = tmp_path / "news captures #2"
    folder.mkdir()
    seeds = sorted(SEEDS.glob("*.txt"))
    for path in seeds:
        shutil.copyfile(path, folder / path.name)
    shutil.copyfile(seeds[0], folder / "repost of the first.txt")
    (folder / "blank.txt").write_text("\n")
    return folder


async def replay_to_kafka(tmp_path: Path, kafka_settings: Any) -> Path:
    config = write_config(tmp_path, kafka_settings, "http://127.0.0.1:9/unused.xml")
    folder = capture_folder(tmp_path)
    run = newsd("replay", str(folder), "--config", str(config), "--fresh-state")
    assert run.returncode == 0, run.stderr[-3000:]
    return folder


async def test_replayed_events_satisfy_the_schema_and_the_docs(
    tmp_path, kafka_settings, consume_topic
):
    """A replay's article, duplicate and error events validate and satisfy every documented
    claim: percent-encoded `ce_source`, `replay.invalid` URLs, no 1970 capture times."""
    await replay_to_kafka(tmp_path, kafka_settings)
    topics = topic_names(kafka_settings.kafka.topics)
    boot = kafka_settings.kafka.bootstrap_servers
    articles = [check_article(r) for r in await consume_topic(boot, topics["articles"], expect=5)]
    reposts = [check_article(r) for r in await consume_topic(boot, topics["duplicates"], expect=1)]
    errors = await consume_topic(boot, topics["errors"], expect=1)
    failed = [check_error(r) for r in errors]
    assert len(articles) == 5 and len(reposts) == 1 and len(failed) == 1
    assert reposts[0]["duplicate_of"] in {a["event_id"] for a in articles}
    assert {e["feed"]["id"] for e in articles} == {"news captures #2"}
    assert headers_of(errors[0])["ce_source"] == "/newsd/replay/news%20captures%20%232"
    assert all(e["url"].startswith("https://replay.invalid/") for e in articles + failed)
    assert {e["domain"] for e in articles} == {"replay.invalid"}
    assert (failed[0]["stage"], failed[0]["reason"]) == ("extract", "empty")


def consumer_example() -> dict[str, Any]:
    """The Python code block of the page's consumer section, executed."""
    section = DOC[DOC.index("## A consumer in Python") :]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/events.md", "exec"), namespace)
    return namespace


async def test_the_documented_consumer_dedups_on_event_id_and_follows_duplicate_of(
    tmp_path, kafka_settings
):
    """The page's consumer, run against a replay on the real broker, builds five stories with
    the repost attached to its original; redelivered events change nothing, and a repost read
    before its original waits for it."""
    await replay_to_kafka(tmp_path, kafka_settings)
    topics = topic_names(kafka_settings.kafka.topics)
    example = consumer_example()
    stories = example["Stories"]()
    boot = kafka_settings.kafka.bootstrap_servers
    wanted = [topics["articles"], topics["duplicates"]]
    await example["consume"](boot, wanted, stories, group_id="docs-example", max_events=6)
    assert len(stories.stories) == 5 and stories.waiting == {}
    reposted = [s for s in stories.stories.values() if s["reposts"]]
    assert len(reposted) == 1
    assert reposted[0]["reposts"][0]["duplicate_of"] == reposted[0]["article"]["event_id"]

    again = example["Stories"]()
    events = [s["article"] for s in stories.stories.values()] + reposted[0]["reposts"]
    for event in [events[-1], *events, *events]:  # the repost first, then everything twice
        again.handle(event)
    assert again.stories == stories.stories and again.waiting == {}


def test_jsonl_lines_have_the_documented_format(tmp_path):
    """A replay to the JSON-lines sink writes one object per line with `channel`, `key`,
    `headers` and `event`; the event is the Kafka value, valid under its schema."""
    out = tmp_path / "events.jsonl"
    folder = capture_folder(tmp_path)
    run = newsd("replay", str(folder), "--fresh-state", "--sink", f"jsonl:{out}")
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        assert list(line) == ["channel", "key", "headers", "event"]
    stories = [line for line in lines if line["channel"] == "stories"]
    lines = [line for line in lines if line["channel"] != "stories"]
    assert len(lines) == 7  # five originals, one repost, one error
    assert len(stories) == 6  # a story summary with each published article, the repost too
    for line in stories:
        validate(line["event"], "story-event")
        assert line["key"] == line["event"]["story_id"]
        assert line["headers"]["ce_dataschema"] == SCHEMAS["story-event"]["$id"]
    for line in lines:
        event, headers = line["event"], line["headers"]
        name = "error-event" if line["channel"] == "errors" else "article-event"
        validate(event, name)
        assert line["key"] == (event["event_id"] if name == "error-event" else event["cluster_id"])
        assert headers["ce_id"] == event["event_id"]
        assert headers["ce_dataschema"] == SCHEMAS[name]["$id"]
    channels = sorted(line["channel"] for line in lines)
    assert channels == ["articles"] * 5 + ["duplicates", "errors"]
