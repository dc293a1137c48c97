"""The values of the cluster's compacted topics, to and from bytes.  Pure: no I/O.

    <prefix>.feeds     key: feed id   value: {"spec": {FeedSpec fields}, "paused": bool,
                                              "unretire": bool}, or a tombstone (removed feed)
    <prefix>.cursors   key: feed id   value: {"state": {FeedState fields, as in `feed_state`},
                                              "seen": [[item key, updated or null], ...]}

A value that does not decode raises `ValueError` naming what is wrong; the readers count it and
skip the record (one bad record must not stop a group from owning its feeds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from daemon.records import FeedSpec
from daemon.sources.feedstate import FeedState, SeenKey

_SPEC_FIELDS = frozenset(f.name for f in dataclasses.fields(FeedSpec))
_STATE_FIELDS = frozenset(f.name for f in dataclasses.fields(FeedState))


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One feed as the feeds topic holds it: its spec and its operator flags."""

    spec: FeedSpec
    paused: bool = False
    unretire: bool = False  # `feeds resume`: poll again a feed retired by 410 Gone


@dataclass(frozen=True, slots=True)
class CursorRecord:
    """One feed's cursor as the cursors topic holds it."""

    state: FeedState
    seen: tuple[SeenKey, ...] = ()


def key(feed_id: str) -> bytes:
    return feed_id.encode("utf-8")


def encode_feed(record: FeedRecord) -> bytes:
    spec = dataclasses.asdict(record.spec)
    spec["tags"] = list(record.spec.tags)
    return orjson.dumps({"spec": spec, "paused": record.paused, "unretire": record.unretire})


def decode_feed(value: bytes | None) -> FeedRecord | None:
    """The record, or None for a tombstone (the feed was removed)."""
    if value is None:
        return None
    data = _object(value, "feed")
    spec = _fields(data.get("spec"), _SPEC_FIELDS, "feed spec")
    if not isinstance(spec.get("feed_id"), str) or not isinstance(spec.get("url"), str):
        raise ValueError("feed spec needs a feed_id and a url")
    spec["tags"] = tuple(spec.get("tags") or ())
    paused, unretire = data.get("paused", False), data.get("unretire", False)
    return FeedRecord(FeedSpec(**spec), paused=bool(paused), unretire=bool(unretire))


def encode_cursor(state: FeedState, seen: Mapping[str, str | None]) -> bytes:
    return orjson.dumps(
        {"state": dataclasses.asdict(state), "seen": [[k, v] for k, v in seen.items()]}
    )


def decode_cursor(value: bytes) -> CursorRecord:
    data = _object(value, "cursor")
    state = _fields(data.get("state"), _STATE_FIELDS, "cursor state")
    if not isinstance(state.get("feed_id"), str) or not isinstance(state.get("url"), str):
        raise ValueError("cursor state needs a feed_id and a url")
    seen = data.get("seen") or []
    if not isinstance(seen, list) or not all(_seen_pair(pair) for pair in seen):
        raise ValueError("cursor seen keys must be [key, updated] pairs")
    return CursorRecord(FeedState(**state), tuple((k, v) for k, v in seen))


def _object(value: bytes, what: str) -> dict[str, Any]:
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{what} value is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} value is not a JSON object")
    return data


def _fields(data: object, known: frozenset[str], what: str) -> dict[str, Any]:
    """The known fields of `data` (fields added by a newer version are ignored)."""
    if not isinstance(data, dict):
        raise ValueError(f"{what} is not a JSON object")
    return {k: v for k, v in data.items() if k in known}


def _seen_pair(pair: object) -> bool:
    return (
        isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and (pair[1] is None or isinstance(pair[1], str))
    )
