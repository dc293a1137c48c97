"""Pure: an extracted `Article` as bytes on the internal articles topic, and back, losslessly.

    {"v": 1, "entry": {...FeedEntry, "origin": {...}}, "url": ..., "text": ...,
     "fetched_at": "ISO 8601", "extraction": ..., "fields": {...ArticleFields},
     "position": [file index, record index] | null}

`v` is the format version: a reader refuses a version it does not know (`ArticleCodecError`,
counted by the dedup owner), so an old owner never misreads a newer instance's article.
Datetimes keep their offset; tuples come back as tuples; `FeedEntry.settle` (a callback of the
publishing instance) is not part of the record.  `position` orders a distributed replay
(`replaywork.py`): the file's place in the run and the page's place in the file.  A second kind
of record, `{"v": 1, "file_done": {"run_id", "file_index", "articles"}}`, says a replay worker
finished a file, so the owner may go on to the next one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from daemon.errors import NewsdError
from daemon.records import Article, ArticleFields, FeedEntry, FeedSource, Origin

VERSION = 1
_DATES = frozenset({"published_at", "updated_at", "modified_at", "fetched_at"})


class ArticleCodecError(NewsdError):
    """An internal-topic record that is not a readable article (bad JSON, unknown version)."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a replayed page sits in a distributed replay run: its file, then its record."""

    run_id: str
    file_index: int
    record_index: int


@dataclass(frozen=True, slots=True)
class Carried:
    """One decoded internal-topic record: the article and, for a distributed replay, its place."""

    article: Article
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class FileDone:
    """A replay worker finished file `file_index` of run `run_id` after `articles` articles."""

    run_id: str
    file_index: int
    articles: int


def encode_done(done: FileDone) -> bytes:
    """The end-of-file marker of a distributed replay (see module)."""
    return orjson.dumps({"v": VERSION, "file_done": dataclasses.asdict(done)})


def encode(article: Article, position: Position | None = None) -> bytes:
    """The article as one JSON document (see module)."""
    entry = _plain(article.entry, skip=("settle",))
    body: dict[str, Any] = {
        "v": VERSION,
        "entry": entry,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "text": article.text,
        "fetched_at": article.fetched_at,
        "extraction": article.extraction,
        "fields": _plain(article.fields),
        "position": None if position is None else dataclasses.asdict(position),
    }
    return orjson.dumps(body)


def decode(raw: bytes) -> Carried | FileDone:
    """The article (or end-of-file marker) back; `ArticleCodecError` for anything else."""
    try:
        body = orjson.loads(raw)
        if not isinstance(body, dict) or body.get("v") != VERSION:
            version = body.get("v") if isinstance(body, dict) else None
            raise ArticleCodecError("unknown_version", f"article record version {version!r}")
        if "file_done" in body:
            return FileDone(**body["file_done"])
        return _carried(body)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ArticleCodecError("unreadable", f"{type(exc).__name__}: {exc}") from exc


def _carried(body: dict[str, Any]) -> Carried:
    article = Article(
        entry=_entry(body["entry"]),
        url=body["url"],
        canonical_url=body["canonical_url"],
        text=body["text"],
        fetched_at=datetime.fromisoformat(body["fetched_at"]),
        extraction=body["extraction"],
        fields=ArticleFields(**_typed(body["fields"])),
    )
    position = body.get("position")
    return Carried(article, None if position is None else Position(**position))


def _entry(raw: dict[str, Any]) -> FeedEntry:
    origin = dict(raw["origin"])
    source = origin.pop("source", None)
    fields = _typed({k: v for k, v in raw.items() if k != "origin"})
    made = Origin(**origin, source=None if source is None else FeedSource(**_typed(source)))
    return FeedEntry(origin=made, **fields)


def _plain(record: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataclass as a dict of JSON-ready values (nested dataclasses included)."""
    names = [f.name for f in dataclasses.fields(record) if f.name not in skip]
    return {name: _value(getattr(record, name)) for name in names}


def _value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(value)
    return value


def _typed(raw: dict[str, Any]) -> dict[str, Any]:
    """JSON values back to the record's types: ISO strings to datetimes, lists to tuples."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _DATES and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif isinstance(value, list):
            value = tuple(value)
        out[name] = value
    return out
