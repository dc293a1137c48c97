"""Read a directory of page captures and feed snapshots into `Capture`s.

Layout (every part optional except the capture files themselves):

    DIR/
      manifest.jsonl        one JSON object per line: {"file": "<path relative to DIR>", ...meta}
      <name>.txt[.gz]       a plain-text page capture (like seeds/*.txt)
      <name>.html[.gz]      an HTML page capture (also .htm, .xhtml)
      <name>.rss|.atom|.rdf|.xml|.json[.gz]   a feed snapshot
      <file>.json           sidecar of <file>, same keys as a manifest line without "file"

Meta keys: `url`, `final_url`, `fetched_at` (ISO 8601), `content_type`, `feed_url`, `guid`,
`title`, `published_at`.  A manifest line wins over a sidecar.  Without either, a capture's URL is
`synthetic_url(<path relative to DIR>)` and its capture time unknown (None: the replayed page's
`fetched_at` is then the time the replay run started, never a file mtime, which changes with
every clone, nor a made-up epoch), so its URL and event id never depend on where the directory
lives.

Feed snapshots are yielded before pages (so entries can be joined to their pages), each group in
sorted path order.  Files of other types are counted as `skip.not_article`.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.replay.items import (
    Capture,
    CaptureKind,
    CaptureMeta,
    Stats,
    is_archive_file,
    synthetic_url,
)

MANIFEST = "manifest.jsonl"
_PAGE_TYPES = {".txt": "text/plain", ".html": "text/html", ".htm": "text/html"}
_PAGE_TYPES[".xhtml"] = "application/xhtml+xml"
_FEED_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".xml": "application/xml",
    ".json": "application/feed+json",
}
_META_KEYS = ("url", "final_url", "content_type", "feed_url", "guid", "title")


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime (naive ones are UTC); None if unusable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def meta_from(data: Mapping[str, Any]) -> CaptureMeta:
    """Capture meta from a sidecar or manifest object; unknown keys and bad types are ignored."""
    text = {k: data[k] for k in _META_KEYS if isinstance(data.get(k), str) and data[k]}
    return CaptureMeta(
        fetched_at=parse_time(data.get("fetched_at")),
        published_at=parse_time(data.get("published_at")),
        **text,
    )


def capture_kind(path: Path) -> tuple[CaptureKind, str] | None:
    """(`feed` or `page`, default content type) for a capture file name; None for other files."""
    suffix = path.with_suffix("").suffix if path.suffix == ".gz" else path.suffix
    suffix = suffix.lower()
    if suffix in _PAGE_TYPES:
        return "page", _PAGE_TYPES[suffix]
    if suffix in _FEED_TYPES:
        return "feed", _FEED_TYPES[suffix]
    return None


class CaptureDirReader:
    """Yields the captures of one directory tree, counting what it skips in `stats`."""

    def __init__(self, stats: Stats, *, max_body_bytes: int = 20_000_000) -> None:
        self._stats = stats
        self._max_body_bytes = max_body_bytes

    def files(self, root: Path) -> list[Path]:
        """The capture files under `root` (feeds first, then pages), sorted; others counted."""
        every = sorted(p for p in root.rglob("*") if p.is_file() and not _hidden(p, root))
        names = set(every)
        feeds: list[Path] = []
        pages: list[Path] = []
        for path in every:
            if (path.name == MANIFEST and path.parent == root) or _not_capture(path):
                continue
            if path.suffix == ".json" and path.with_suffix("") in names:
                continue  # a sidecar
            kind = capture_kind(path)
            if kind is None:
                self._stats["skip.not_article"] += 1
                continue
            (feeds if kind[0] == "feed" else pages).append(path)
        return feeds + pages

    def read(self, root: Path) -> Iterator[Capture]:
        """Every capture under `root`, feeds first; unreadable files are counted and skipped."""
        manifest = self._manifest(root)
        for path in self.files(root):
            capture = self._capture(root, path, manifest)
            if capture is not None:
                yield capture

    def _capture(
        self, root: Path, path: Path, manifest: Mapping[str, CaptureMeta]
    ) -> Capture | None:
        relative = path.relative_to(root).as_posix()
        kind, default_type = capture_kind(path) or ("page", "text/html")
        meta = manifest.get(relative) or self._sidecar(path)
        body = self._body(path)
        if body is None:
            return None
        url = meta.url or synthetic_url(relative)
        return Capture(
            kind=kind,
            url=url,
            final_url=meta.final_url or url,
            status=200,
            content_type=meta.content_type or default_type,
            body=body,
            fetched_at=meta.fetched_at,
            source=path,
            archive=root.name,
            is_text=kind == "page" and default_type == "text/plain",
            meta=meta,
        )

    def _body(self, path: Path) -> bytes | None:
        try:
            if path.suffix == ".gz":
                with gzip.open(path, "rb") as stream:
                    body = stream.read(self._max_body_bytes + 1)
            else:
                with path.open("rb") as stream:
                    body = stream.read(self._max_body_bytes + 1)
        except (OSError, EOFError, zlib.error):
            self._stats["skip.broken.bad_file"] += 1
            return None
        if len(body) > self._max_body_bytes:
            self._stats["skip.too_large"] += 1
            return None
        return body

    def _sidecar(self, path: Path) -> CaptureMeta:
        sidecar = path.with_name(path.name + ".json")
        if not sidecar.is_file():
            return CaptureMeta()
        data = self._json_object(sidecar.read_bytes())
        return meta_from(data) if data is not None else CaptureMeta()

    def _manifest(self, root: Path) -> dict[str, CaptureMeta]:
        path = root / MANIFEST
        if not path.is_file():
            return {}
        entries: dict[str, CaptureMeta] = {}
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            data = self._json_object(line)
            if data is not None and isinstance(data.get("file"), str):
                entries[data["file"]] = meta_from(data)
            elif data is not None:
                self._stats["skip.broken.meta"] += 1
        return entries

    def _json_object(self, raw: bytes) -> dict[str, Any] | None:
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self._stats["skip.broken.meta"] += 1
            return None
        return data


def _not_capture(path: Path) -> bool:
    """Archive files (read by the WARC reader) and files still being written."""
    return is_archive_file(path) or path.suffix == ".open"


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)
