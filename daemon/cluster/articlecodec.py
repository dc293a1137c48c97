"""Pure: an extracted `Article` as bytes on the internal articles topic, and back, losslessly.

    {"v": 1, "entry": {...FeedEntry, "origin": {...}}, "url": ..., "text": ...,
     "fetched_at": "ISO 8601", "extraction": ..., "fields": {...ArticleFields},
     "position": [file index, record index] | null,
     "fingerprint": {...Fingerprint} | absent, "lead_terms": {...LeadTerms} | absent}

`v` is the format version: a reader refuses a version it does not know (`ArticleCodecError`,
counted by the dedup owner), so an old owner never misreads a newer instance's article.
Datetimes keep their offset; tuples come back as tuples; `FeedEntry.settle` (a callback of the
publishing instance) is not part of the record.  `position` orders a distributed replay
(`replaywork.py`): the file's place in the run and the page's place in the file.  A second kind
of record, `{"v": 1, "file_done": {"run_id", "file_index", "articles"}}`, says a replay worker
finished a file, so the owner may go on to the next one.

`fingerprint` and `lead_terms` carry what the extraction worker computed for dedup
(`Article.fingerprint`) and the story stage (`Article.lead_terms`), so the owner does not
compute them again; `carry.py` encodes them generically over their fields (numpy arrays as
dtype + base64 bytes; the fingerprint's `text`, always the article's, is left out).  They are
optional keys, not a new version: an owner of the version before them ignores them and
computes both, as it does for a record without them (an older instance's), and one that
cannot use them (written by another version of the classes) drops them, counted as
`Carried.dropped`, and computes them too.  The Deduper still uses a fingerprint only when its
parameters and text are its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from daemon.cluster import carry
from daemon.dedup.fingerprint import Fingerprint
from daemon.errors import NewsdError
from daemon.records import Article, ArticleFields, FeedEntry, FeedSource, Origin
from daemon.stories.terms import LeadTerms

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
    dropped: tuple[str, ...] = ()  # carried parts not usable here ("fingerprint", "lead_terms")


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
    if article.fingerprint is not None:
        omit = ("text",) if article.fingerprint.text == article.text else ()
        body["fingerprint"] = carry.plain(article.fingerprint, omit)
    if article.lead_terms is not None:
        body["lead_terms"] = carry.plain(article.lead_terms)
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:  # a carried field JSON cannot hold: the owner computes it
        for part in ("fingerprint", "lead_terms"):
            body.pop(part, None)
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
    text: str = body["text"]
    fingerprint, lead, dropped = _computed(body, text)
    article = Article(
        entry=_entry(body["entry"]),
        url=body["url"],
        canonical_url=body["canonical_url"],
        text=text,
        fetched_at=datetime.fromisoformat(body["fetched_at"]),
        extraction=body["extraction"],
        fields=ArticleFields(**_typed(body["fields"])),
        fingerprint=fingerprint,
        lead_terms=lead,
    )
    position = body.get("position")
    return Carried(article, None if position is None else Position(**position), dropped)


def _computed(
    body: dict[str, Any], text: str
) -> tuple[Fingerprint | None, LeadTerms | None, tuple[str, ...]]:
    """The carried fingerprint and lead terms, each None when absent or not usable here."""
    dropped: list[str] = []
    fingerprint = _restored(Fingerprint, body, "fingerprint", dropped, text=text)
    lead = _restored(LeadTerms, body, "lead_terms", dropped)
    return fingerprint, lead, tuple(dropped)


def _restored(
    cls: type[carry.T], body: dict[str, Any], name: str, dropped: list[str], **given: Any
) -> carry.T | None:
    """`body[name]` as a `cls`; None when absent, or (named in `dropped`) when not usable."""
    data = body.get(name)
    if data is None:
        return None
    try:
        omitted = {k: v for k, v in given.items() if k not in data}
        return carry.restore(cls, data, omitted)
    except (ValueError, TypeError):
        dropped.append(name)
        return None


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
