"""Schema evolution: compatible changes only within a major version, checked against the release.

`schemas/released/` keeps the last released schema of each event.  The current schemas must be
compatible with it (`daemon.schemacompat`) unless the major version (`schema_version`) changed,
and a consumer still validating with the released v1.0 file accepts today's events.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from daemon.events import article_event, error_event
from daemon.records import Article, ArticleFields, FeedEntry, FeedSource, Origin, Verdict
from daemon.schemacompat import incompatibilities, major_version
from daemon.schemas import SCHEMAS, render
from tests.conftest import REPO

RELEASED = REPO / "schemas" / "released"
LAST_RELEASE = {"article-event.v1.json": "article-event.v1.0.json",
                "error-event.v1.json": "error-event.v1.0.json"}  # fmt: skip


def released(name: str) -> dict[str, Any]:
    return json.loads((RELEASED / LAST_RELEASE[name]).read_text())


def test_every_released_schema_is_still_published() -> None:
    """A schema of the last release is never dropped (a schema new since then, such as the
    story event's, has no release to compare with yet)."""
    assert set(LAST_RELEASE) <= set(SCHEMAS)


@pytest.mark.parametrize("name", sorted(LAST_RELEASE))
def test_current_schema_is_compatible_with_the_last_release(name: str) -> None:
    """No removed, retyped or required-changed field and no changed enum since the last
    release, unless the major version changed (then the topics change too)."""
    current = json.loads(render(SCHEMAS[name], name))
    old = released(name)
    if major_version(current) != major_version(old):
        return  # a new major version: incompatible changes are its point
    assert incompatibilities(old, current) == []
    assert current["$id"] == old["$id"]


def _full_event() -> dict[str, Any]:
    """A v1.1 article event with every new field filled."""
    source = FeedSource("Example News", "GB", "en", ("world",))
    entry = FeedEntry(Origin("feed", "example-news", "https://news.example/rss", source),
                      "https://news.example/world/storm", guid="g1")  # fmt: skip
    fields = ArticleFields(
        title="Storm",
        published_at=datetime(2026, 5, 1, tzinfo=UTC),
        published_at_precision="day",
        section="world",
        article_type="live",
        access="registration",
        image="https://news.example/i.jpg",
        tags=("storm",),
    )
    now = datetime(2026, 5, 1, 9, tzinfo=UTC)
    article = Article(entry, entry.url, entry.url, "One.\n\nTwo.", now, "ok", fields)
    return json.loads(article_event(article, Verdict("new", "c1")).model_dump_json())


def test_a_v1_0_consumer_accepts_v1_1_events() -> None:
    """A consumer validating with the released v1.0 schema file accepts a v1.1 event with every
    new field set, and a v1.1 error event."""
    event = _full_event()
    assert {"source", "domain", "access", "word_count", "published_at_precision"} <= set(event)
    checker = Draft202012Validator.FORMAT_CHECKER
    Draft202012Validator(released("article-event.v1.json"), format_checker=checker).validate(event)
    entry = FeedEntry(Origin("replay", "news captures #2"), "https://replay.invalid/a.txt")
    error = json.loads(error_event(entry, "extract", "empty").model_dump_json())
    Draft202012Validator(released("error-event.v1.json"), format_checker=checker).validate(error)


def _base() -> dict[str, Any]:
    return {
        "$defs": {"Feed": {"type": "object", "properties": {"id": {"type": "string"}},
                           "required": ["id"], "additionalProperties": True}},
        "type": "object",
        "additionalProperties": True,
        "required": ["schema_version", "kind"],
        "properties": {
            "schema_version": {"const": 1, "type": "integer"},
            "kind": {"enum": ["a", "b"], "type": "string"},
            "title": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "feed": {"$ref": "#/$defs/Feed"},
        },
    }  # fmt: skip


def _changed(path: list[str], value: Any) -> dict[str, Any]:
    schema = copy.deepcopy(_base())
    node = schema
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return schema


CHANGES = {
    "optional field added": (["properties", "new"], {"type": "string"}, None),
    "field removed": (["properties", "title"], None, "removed"),
    "field retyped": (["properties", "title"], {"type": "integer"}, "retyped"),
    "null no longer allowed": (["properties", "title"], {"type": "string"}, "retyped"),
    "item type changed": (["properties", "tags", "items"], {"type": "integer"}, "retyped"),
    "enum narrowed": (["properties", "kind", "enum"], ["a"], "narrowed"),
    "enum widened": (["properties", "kind", "enum"], ["a", "b", "c"], "widened"),
    "field now required": (["required"], ["schema_version", "kind", "title"], "required"),
    "field no longer required": (["required"], ["schema_version"], "required"),
    "nested field removed": (["$defs", "Feed", "properties"], {}, "removed"),
    "closed to unknown fields": (["additionalProperties"], False, "closed"),
    "const changed": (["properties", "schema_version", "const"], 2, "retyped"),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_incompatible_changes_are_found(change: tuple[list[str], Any, str | None]) -> None:
    """Adding an optional field is the one compatible change; each other kind is reported."""
    path, value, expected = change
    found = incompatibilities(_base(), _changed(path, value))
    if expected is None:
        assert found == []
    else:
        assert found and all(f" {expected}" in line for line in found), found
