"""The wire contract: deterministic ids, checked-in schemas, canonical URLs."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
from hypothesis import given
from hypothesis import strategies as st

from daemon.dedup.keys import canonical_url, content_hash, event_id
from daemon.events import ArticleEvent, article_event
from daemon.records import Article, ArticleFields, FeedEntry, Origin, Verdict
from daemon.schemas import SCHEMAS, render

REPO = Path(__file__).resolve().parent.parent


def test_checked_in_schemas_match_the_models():
    """schemas/*.json are regenerated from the models (`make schemas`) whenever they change."""
    for name, model in SCHEMAS.items():
        assert (REPO / "schemas" / name).read_text() == render(model, name), f"stale {name}"


def test_event_id_is_the_same_in_a_fresh_interpreter():
    """The id depends only on canonical URL and text: another process computes the same one."""
    code = (
        "from daemon.dedup.keys import event_id, content_hash, canonical_url;"
        "print(event_id(canonical_url('HTTP://Ex.com:80/a?utm_source=x'),"
        "content_hash('Body  text')))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={"PYTHONHASHSEED": "123", "PYTHONPATH": str(REPO)},
    ).stdout.strip()
    assert other == event_id(canonical_url("http://ex.com/a"), content_hash("body text"))


@given(st.text(min_size=1, max_size=40))
def test_content_hash_ignores_case_and_whitespace_runs(text):
    """Normalization: case and runs of white space do not change the hash."""
    assert content_hash(text) == content_hash(f"  {text.upper()}  ".replace(" ", "   "))


urls = st.builds(
    "{}://{}{}/{}?{}#{}".format,
    st.sampled_from(["http", "HTTP", "https"]),
    st.sampled_from(["Example.com", "news.example.org", "x.test"]),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.text(alphabet="abc/", max_size=8),
    st.sampled_from(["", "utm_source=a", "b=2&a=1", "fbclid=z&id=7"]),
    st.text(alphabet="xyz", max_size=3),
)


@given(urls)
def test_canonical_url_is_idempotent(url):
    """Canonicalizing twice equals canonicalizing once."""
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_canonical_url_table():
    """Tracking parameters, fragments, default ports and case are normalized away."""
    table = {
        "HTTP://Example.COM:80/a?utm_source=x&b=2&a=1#frag": "http://example.com/a?a=1&b=2",
        "https://example.com:443": "https://example.com/",
        "https://example.com:8443/x": "https://example.com:8443/x",
        "https://example.com/x?fbclid=1&gclid=2": "https://example.com/x",
        "https://example.com//a//b": "https://example.com/a/b",
    }
    for raw, expected in table.items():
        assert canonical_url(raw) == expected, raw


def test_canonical_url_spellings_of_one_resource_agree():
    """Dot segments, percent-escape case, escaped unreserved characters and IDN hosts in
    Unicode or punycode give one canonical URL, so one event id for one text."""
    groups = [
        ["https://example.com/a/c", "https://example.com/a/./b/../c", "https://example.com/x/../a/c"],
        ["https://example.com/~user/caf%C3%A9", "https://example.com/%7euser/caf%c3%a9",
         "https://example.com/%7Euser/café"],
        ["https://xn--bcher-kva.example/x", "https://bücher.example/x", "https://BÜCHER.example/x"],
        ["https://example.com/a?x=1&y=%C3%A9", "https://example.com/a?y=%c3%a9&utm_medium=x&x=1"],
    ]  # fmt: skip
    for spellings in groups:
        found = {canonical_url(url) for url in spellings}
        assert found == {spellings[0]}, spellings
    assert canonical_url("https://example.com/a%2Fb") != canonical_url("https://example.com/a/b")


spelled_urls = st.builds(
    "{}://{}/{}?{}".format,
    st.sampled_from(["http", "https"]),
    st.sampled_from(["Example.com", "bücher.example", "xn--bcher-kva.example"]),
    st.text(alphabet="ab/.%7eE~é", max_size=12),
    st.text(alphabet="ab=&%c3", max_size=8),
)


@given(spelled_urls)
def test_canonical_url_is_idempotent_on_escapes_dots_and_idn(url):
    """Canonicalizing twice equals once, whatever escapes, dot segments or IDN hosts it has."""
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_article_event_validates_against_the_checked_in_schema():
    """A built event serializes to JSON that the published schema accepts, with aware times."""
    entry = FeedEntry(Origin("feed", "f", "http://f.test/rss"), "http://a.test/1", guid="g1")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    fields = ArticleFields(title="Title")
    article = Article(entry, "http://a.test/1", "http://a.test/1", "Body", now, "ok", fields)
    event = article_event(article, Verdict("new", "c1"))
    schema = json.loads((REPO / "schemas" / "article-event.v1.json").read_text())
    payload = json.loads(event.model_dump_json())
    jsonschema.validate(payload, schema)
    assert payload["fetched_at"].endswith("Z") or payload["fetched_at"].endswith("+00:00")
    assert event.event_id == event_id("http://a.test/1", content_hash("Body"))


def test_every_article_field_is_a_wire_field():
    """The article fields are defined once: each one reaches the event under the same name."""
    names = {f.name for f in dataclasses.fields(ArticleFields)}
    assert names <= set(ArticleEvent.model_fields)
    fields = ArticleFields(title="T", authors=("A",), tags=("x",), syndication="AP")
    entry = FeedEntry(Origin("feed", "f"), "http://a.test/1")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    event = article_event(Article(entry, entry.url, entry.url, "Body", now, "ok", fields),
                          Verdict("new", "c1"))  # fmt: skip
    assert (event.title, event.authors, event.tags, event.syndication) == ("T", ["A"], ["x"], "AP")
