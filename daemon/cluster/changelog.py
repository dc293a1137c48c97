"""The dedup owner's changelog, `<prefix>.dedup` (compacted): what a new owner rebuilds from.

    key  <event id>          {"v": 1, "kind": "doc", "decided_at": t, "verdict": kind,
                              "article": <articlecodec record>}
    key  replay:<run id>     {"v": 1, "kind": "replay", "run_id": ..., "next_file": n}
    key  barrier:<uuid>      {"v": 1, "kind": "barrier"}, then a tombstone (null value)

A doc record is written after the article's public event was acknowledged, in acknowledgement
order (= decision order).  It carries the article itself, not the index's rows: the new owner
re-decides the articles in the same order with the clock set to each `decided_at`, through the
Deduper's public `decide`/`commit`, which rebuilds everything the old owner had learnt (keys,
MinHash signatures, clusters and their sizes, per-site boilerplate — the last is not even in
SQLite) exactly, whatever the index's internal layout.  Event ids come from content, so the
rebuilt documents carry the same ids.  Re-deciding costs what deciding cost (see
`bench/cluster_dedup.py`); retention (`cluster.dedup_retention_ms`) bounds it to the window.

The changelog has no end offset a reader can trust on every broker (the test broker reports it
wrong, docs FINDINGS), so a rebuild writes a barrier record with a fresh key and reads until it
sees it: on one partition, everything before the barrier was read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from daemon.cluster.articlecodec import ArticleCodecError, Carried, decode, encode
from daemon.records import Article

VERSION = 1


@dataclass(frozen=True, slots=True)
class DocEntry:
    """A published article, as the changelog remembers it."""

    article: Article
    verdict: str
    decided_at: float


@dataclass(frozen=True, slots=True)
class RunProgress:
    """Every file of `run_id` below `next_file` was decided and acknowledged."""

    run_id: str
    next_file: int


@dataclass(frozen=True, slots=True)
class Barrier:
    key: bytes


def doc_record(
    article: Article, verdict: str, event_id: str, decided_at: float, record: bytes | None = None
) -> tuple[bytes, bytes]:
    """The doc record; `record` is the article's `articlecodec` record when the caller has it
    already (the owner: as it came off the articles topic), else it is encoded here."""
    head = orjson.dumps({"v": VERSION, "kind": "doc", "decided_at": decided_at, "verdict": verdict})
    body = encode(article) if record is None else record
    return event_id.encode(), head[:-1] + b',"article":' + body + b"}"


def progress_record(progress: RunProgress) -> tuple[bytes, bytes]:
    body = {
        "v": VERSION,
        "kind": "replay",
        "run_id": progress.run_id,
        "next_file": progress.next_file,
    }
    return f"replay:{progress.run_id}".encode(), orjson.dumps(body)


def barrier_record() -> tuple[bytes, bytes]:
    return f"barrier:{uuid.uuid4().hex}".encode(), orjson.dumps({"v": VERSION, "kind": "barrier"})


def read(key: bytes | None, value: bytes | None) -> DocEntry | RunProgress | Barrier | None:
    """One changelog record; None for a tombstone.  `ArticleCodecError` when unreadable."""
    if value is None:
        return None
    try:
        body: dict[str, Any] = orjson.loads(value)
        if body.get("v") != VERSION:
            raise ArticleCodecError("unknown_version", f"changelog version {body.get('v')!r}")
        return _entry(key or b"", body)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ArticleCodecError("unreadable", f"{type(exc).__name__}: {exc}") from exc


def _entry(key: bytes, body: dict[str, Any]) -> DocEntry | RunProgress | Barrier:
    kind = body["kind"]
    if kind == "barrier":
        return Barrier(key)
    if kind == "replay":
        return RunProgress(body["run_id"], int(body["next_file"]))
    if kind != "doc":
        raise ArticleCodecError("unknown_kind", f"changelog record kind {kind!r}")
    carried = decode(orjson.dumps(body["article"]))
    if not isinstance(carried, Carried):
        raise ArticleCodecError("unreadable", "a doc record without an article")
    return DocEntry(carried.article, body["verdict"], float(body["decided_at"]))
