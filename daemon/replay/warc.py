"""Read WARC / WARC.gz (and ARC) files into `Capture`s, surviving broken records.

Per record type:
- `response` (HTTP): a 200 with a feed or page body becomes a Capture; other statuses are counted
  as `skip.status`, other content types as `skip.not_article`.  Chunked transfer coding and
  gzip/deflate/br content coding of the stored response are undone (warcio's `content_stream`).
- `resource`: its block is the body, typed by the record's Content-Type.
- `revisit`: the payload of the record it revisits, found by WARC-Refers-To-Target-URI +
  WARC-Refers-To-Date, then by WARC-Payload-Digest, then by the latest capture of the same URI,
  among the records read so far by this reader (all files of a run share one index).  It is
  captured at the revisit's own URI and date.  Unresolved: `skip.revisit_unresolved`.
- `request`, `metadata`, `conversion`, `warcinfo` and others: `skip.<type>`.

A record that ends before its Content-Length (a truncated file, a wrong length) is counted as
`skip.broken.truncated` and not emitted: half an article would publish a different content hash.
Broken input is counted as `skip.broken.<reason>` and reading goes on: after a record that cannot
be parsed the reader resynchronises on the next gzip member (or `WARC/` line in an uncompressed
file); a whole-file gzip (not one member per record) is re-read as one stream.

Records written by `archive.ArchiveWriter` carry `X-Newsd-Kind` (feed/page) and
`X-Newsd-Requested-URI`, which are used instead of sniffing.
"""

from __future__ import annotations

import gzip
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException
from warcio.timeutils import iso_date_to_datetime

from daemon.replay import sniff
from daemon.replay.items import Capture, CaptureKind, Stats

KIND_HEADER = "X-Newsd-Kind"
REQUESTED_URI_HEADER = "X-Newsd-Requested-URI"
_SKIPPED_TYPES = frozenset({"request", "metadata", "conversion", "warcinfo", "continuation"})
_GZIP_MAGIC = b"\x1f\x8b\x08"
_MAX_RESYNCS = 10_000
_INDEX_SIZE = 200_000


@dataclass(frozen=True, slots=True)
class _Stored:
    """Where a readable original lives, for resolving revisits."""

    path: Path
    offset: int
    content_type: str
    kind: CaptureKind


class _Index:
    """Bounded LRU maps: (uri, date) / payload digest / uri → the stored original."""

    def __init__(self, size: int = _INDEX_SIZE) -> None:
        self._size = size
        self._maps: dict[str, OrderedDict[str, _Stored]] = {
            "at": OrderedDict(),
            "digest": OrderedDict(),
            "uri": OrderedDict(),
        }

    def add(self, key: str, value: str | None, stored: _Stored) -> None:
        if not value:
            return
        table = self._maps[key]
        table[value] = stored
        table.move_to_end(value)
        if len(table) > self._size:
            table.popitem(last=False)

    def get(self, key: str, value: str | None) -> _Stored | None:
        return self._maps[key].get(value) if value else None


def broken_reason(exc: BaseException) -> str:
    """A short, countable reason for an exception raised while reading an archive."""
    text = str(exc).lower()
    if isinstance(exc, ArchiveLoadFailed):
        if "non-chunked gzip" in text:
            return "non_chunked_gzip"
        return "bad_format" if "unknown archive format" in text else "bad_headers"
    if isinstance(exc, StatusAndHeadersParserException):
        return "bad_headers"
    if isinstance(exc, zlib.error | gzip.BadGzipFile):
        return "bad_gzip"
    if isinstance(exc, EOFError):
        return "truncated"
    if isinstance(exc, OSError):
        return "io"
    return "unreadable"


def warc_time(value: str | None) -> datetime | None:
    """A WARC-Date (full or truncated ISO 8601, fractional seconds kept) as an aware datetime."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = iso_date_to_datetime(value.strip())
        except (ValueError, IndexError):
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _header(record: Any, name: str) -> str | None:
    value = record.rec_headers.get_header(name)
    return str(value).strip().strip("<>") if value else None


def _digest(value: str | None) -> str | None:
    return value.strip().lower() if value else None


class WarcReader:
    """Reads WARC/ARC files into Captures; one reader per replay run (its revisit index spans
    every file it reads).  Counts every record it does not yield in `stats`."""

    def __init__(self, stats: Stats, *, max_body_bytes: int = 20_000_000) -> None:
        self._stats = stats
        self._max_body_bytes = max_body_bytes
        self._index = _Index()
        self._truncated_record: Any = None  # already counted as truncated
        self.position = 0  # bytes of the current file consumed so far (for progress)

    def read(self, path: Path) -> Iterator[Capture]:
        """Every usable capture of one file, in record order."""
        self.position = 0
        with path.open("rb") as raw:
            yield from self._read_members(path, raw)

    def _read_members(self, path: Path, raw: IO[bytes]) -> Iterator[Capture]:
        offset: int | None = 0
        resyncs = emitted = 0
        while offset is not None and resyncs <= _MAX_RESYNCS:
            raw.seek(offset)
            records = ArchiveIterator(raw, arc2warc=True)
            record = None
            try:
                for record in records:
                    emitted += 1
                    yield from self._record(path, records.offset, record)
                    self.position = raw.tell()
                self._check_complete(record)
                return
            except Exception as exc:  # warcio raises bare Exceptions too
                reason = broken_reason(exc)
                self._stats[f"skip.broken.{reason}"] += 1
                if reason == "non_chunked_gzip":
                    yield from self._read_whole_gzip(path, skip=emitted)
                    return
            offset = _resync(raw, records.offset + 1)
            resyncs += 1

    def _read_whole_gzip(self, path: Path, *, skip: int) -> Iterator[Capture]:
        """A whole-file gzip: read it as one stream, past the `skip` records already seen."""
        with gzip.open(path, "rb") as stream:
            try:
                for number, record in enumerate(ArchiveIterator(stream, arc2warc=True)):
                    if number >= skip:
                        yield from self._record(path, None, record)
            except Exception as exc:  # the stream cannot be resynchronised
                self._stats[f"skip.broken.{broken_reason(exc)}"] += 1

    def _check_complete(self, last: Any) -> None:
        # warcio ends quietly when a file stops inside its last record; count that record.
        if last is not None and last is not self._truncated_record and _truncated(last):
            self._stats["skip.broken.truncated"] += 1

    def _record(self, path: Path, offset: int | None, record: Any) -> Iterator[Capture]:
        rec_type = str(record.rec_type or "unknown")
        if rec_type in ("response", "resource"):
            capture = self._response(path, offset, record)
        elif rec_type == "revisit":
            capture = self._revisit(path, record)
        else:
            self._stats[f"skip.{rec_type if rec_type in _SKIPPED_TYPES else 'other_type'}"] += 1
            return
        if capture is not None:
            yield capture

    def _response(self, path: Path, offset: int | None, record: Any) -> Capture | None:
        status, content_type = _status_and_type(record)
        declared = _declared_kind(record)
        verdict = declared or sniff.by_content_type(content_type)
        if verdict == "other":
            self._stats["skip.not_article"] += 1
            return None
        if status != 200:
            self._stats["skip.status"] += 1
            return None
        body = self._body(record)
        if body is None:
            return None
        kind = declared or sniff.classify(content_type, body)
        if kind not in ("feed", "page"):
            self._stats["skip.not_article"] += 1
            return None
        capture = self._capture(path, record, kind, content_type, body)
        if capture is not None and offset is not None:
            self._remember(record, _Stored(path, offset, content_type, kind))
        return capture

    def _revisit(self, path: Path, record: Any) -> Capture | None:
        # A revisit's own HTTP headers (when stored) describe the revisit: a 304 is the
        # server-not-modified profile, still the original's payload.
        status, own_type = _status_and_type(record) if record.http_headers else (200, "")
        if own_type and sniff.by_content_type(own_type) == "other":
            self._stats["skip.not_article"] += 1
            return None
        if status not in (200, 304):
            self._stats["skip.status"] += 1
            return None
        original = self._resolve(record)
        if original is None:
            self._stats["skip.revisit_unresolved"] += 1
            return None
        found = _read_at(original, self._read_body)
        if found is None:
            self._stats["skip.revisit_unresolved"] += 1
            return None
        self._stats["revisit.resolved"] += 1
        return self._capture(path, record, original.kind, own_type or original.content_type, found)

    def _resolve(self, record: Any) -> _Stored | None:
        uri = _header(record, "WARC-Refers-To-Target-URI") or _header(record, "WARC-Target-URI")
        when = _header(record, "WARC-Refers-To-Date")
        at = f"{uri} {warc_time(when)}" if when else None
        return (
            self._index.get("at", at)
            or self._index.get("digest", _digest(_header(record, "WARC-Payload-Digest")))
            or self._index.get("uri", uri)
        )

    def _remember(self, record: Any, stored: _Stored) -> None:
        uri = _header(record, "WARC-Target-URI")
        when = warc_time(_header(record, "WARC-Date"))
        self._index.add("at", f"{uri} {when}", stored)
        self._index.add("digest", _digest(_header(record, "WARC-Payload-Digest")), stored)
        self._index.add("uri", uri, stored)

    def _capture(
        self, path: Path, record: Any, kind: CaptureKind, content_type: str, body: bytes
    ) -> Capture | None:
        final_url = _header(record, "WARC-Target-URI")
        fetched_at = warc_time(_header(record, "WARC-Date"))
        if not final_url or fetched_at is None:
            self._stats[f"skip.broken.{'bad_date' if final_url else 'no_target_uri'}"] += 1
            return None
        return Capture(
            kind=kind,
            url=_header(record, REQUESTED_URI_HEADER) or final_url,
            final_url=final_url,
            status=200,
            content_type=content_type,
            body=body,
            fetched_at=fetched_at,
            source=path,
            archive=path.name,
            # A plain-text page (a capture like seeds/*.txt) is cleaned as text, live and here.
            is_text=kind == "page" and sniff.media_type(content_type) == "text/plain",
        )

    def _body(self, record: Any) -> bytes | None:
        try:
            body = self._read_body(record)
        except EOFError:
            self._stats["skip.broken.truncated"] += 1
            self._truncated_record = record
            return None
        except Exception:  # decoders (zlib, brotli, chunked) raise their own
            self._stats["skip.broken.payload"] += 1
            return None
        if body is None:
            self._stats["skip.too_large"] += 1
        return body

    def _read_body(self, record: Any) -> bytes | None:
        body: bytes = record.content_stream().read(self._max_body_bytes + 1)
        if len(body) > self._max_body_bytes:
            return None
        if _truncated(record):
            raise EOFError("record ends before its Content-Length")
        return body


def _truncated(record: Any) -> bool:
    """True when the file ended before the record's declared Content-Length."""
    while record.raw_stream.read(1 << 16):
        pass
    return int(getattr(record.raw_stream, "limit", 0)) > 0


def _status_and_type(record: Any) -> tuple[int, str]:
    """HTTP status and Content-Type of a response; 200 and the block's type for a resource."""
    http = record.http_headers
    if record.rec_type in ("response", "revisit") and http is not None:
        try:
            status = int(http.get_statuscode() or 0)
        except ValueError:
            status = 0
        return status, str(http.get_header("Content-Type") or "")
    return 200, str(record.rec_headers.get_header("Content-Type") or "")


def _declared_kind(record: Any) -> CaptureKind | None:
    value = _header(record, KIND_HEADER)
    if value == "feed":
        return "feed"
    return "page" if value == "page" else None


def _read_at(stored: _Stored, read_body: Callable[[Any], bytes | None]) -> bytes | None:
    """The body of the record stored at `stored.offset`, or None if it cannot be read again."""
    try:
        with stored.path.open("rb") as raw:
            raw.seek(stored.offset)
            record = next(iter(ArchiveIterator(raw, arc2warc=True)))
            return read_body(record)
    except Exception:  # it was readable once; count, do not crash
        return None


def _resync(raw: IO[bytes], start: int, chunk: int = 1 << 20) -> int | None:
    """The offset of the next gzip member (or `WARC/` line) at or after `start`, or None."""
    raw.seek(0)
    gzipped = raw.read(2) == _GZIP_MAGIC[:2]
    marker = _GZIP_MAGIC if gzipped else b"\nWARC/"
    raw.seek(start)
    position, carry = start, b""
    while block := raw.read(chunk):
        found = (carry + block).find(marker)
        if found >= 0:
            return position - len(carry) + found + (0 if gzipped else 1)
        carry = block[-(len(marker) - 1) :]
        position += len(block)
    return None
