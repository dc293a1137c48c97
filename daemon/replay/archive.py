"""Write every fetched feed and page to rotating WARC files, so a live run can be replayed.

Each fetch becomes a `request` + `response` record pair (WARC/1.1, one gzip member per record,
the request's `WARC-Concurrent-To` naming the response), and each file starts with a `warcinfo`
record (`software: newsd/<version>`).  `WARC-Date` is the fetch time with microseconds, so a
replay dates its pages exactly as the live run did.

The HTTP client hands over bodies already decoded, so the stored headers are made to describe the
stored bytes: `Content-Encoding`, `Transfer-Encoding` and `Content-Length` are dropped and a
`Content-Length` of the stored body is written; the original values are kept in the WARC headers
`X-Newsd-Original-Content-Encoding`, `X-Newsd-Original-Transfer-Encoding` and
`X-Newsd-Original-Content-Length`.  The response's `WARC-Target-URI` is the final URL (after
redirects); `X-Newsd-Requested-URI` holds the URL asked for and `X-Newsd-Redirects` the hops,
and `X-Newsd-Kind` says whether it was a feed or a page.

Files are named `newsd-<UTC yyyymmddThhmmssZ>-<serial>.warc.gz`, written as `<name>.open` and
renamed when closed, so readers never see half a file.  A file is closed and a new one started
when it reaches `max_bytes`, or when a record arrives after `max_age` seconds; `close()` closes the
last one.  File I/O runs on one writer thread: records are written in call order and the event
loop never blocks on the disk.  Archiving never fails a fetch: write errors are logged and counted
in `stats["error"]`.
"""

from __future__ import annotations

import asyncio
import http
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import structlog
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from daemon import __version__
from daemon.fetch.contract import HttpResponse
from daemon.replay.warc import KIND_HEADER, REQUESTED_URI_HEADER
from daemon.settings import ArchiveSettings

log = structlog.get_logger(__name__)

ARCHIVED_KINDS = frozenset({"feed", "page"})
OPEN_SUFFIX = ".open"
_REWRITTEN = ("content-encoding", "transfer-encoding", "content-length")
_ORIGINAL_PREFIX = "X-Newsd-Original-"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def warc_date(when: datetime) -> str:
    """A WARC/1.1 date with microseconds, in UTC."""
    utc = when.astimezone(UTC) if when.tzinfo else when
    return str(datetime_to_iso_date(utc.replace(tzinfo=None), use_micros=True))


def _clean(value: str) -> str:
    # Header values come from remote servers: never let them inject a line into a record.
    return value.replace("\r", " ").replace("\n", " ")


def response_headers(response: HttpResponse) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(HTTP headers describing the stored, decoded body; WARC headers keeping the originals)."""
    kept = [(k, _clean(v)) for k, v in response.headers.items() if k.lower() not in _REWRITTEN]
    kept.append(("content-length", str(len(response.body))))
    originals = {
        _ORIGINAL_PREFIX + name.title(): _clean(response.headers[name])
        for name in _REWRITTEN
        if name in response.headers
    }
    return kept, originals


def request_headers(response: HttpResponse) -> StatusAndHeaders:
    """The GET request line and headers that produced `response` (as the client sent them)."""
    parts = urlsplit(response.final_url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {
        "host": parts.netloc,
        **{k.lower(): v for k, v in response.raw_request_headers.items()},
    }
    pairs = [(k, _clean(v)) for k, v in headers.items()]
    return StatusAndHeaders(f"GET {_clean(target)} HTTP/1.1", pairs, is_http_request=True)


class _WarcFile:
    """One archive file being written (as `<name>.open`), renamed to `<name>` on close."""

    def __init__(self, path: Path, opened_at: datetime, software: str) -> None:
        self.path = path
        self.opened_at = opened_at
        self.writer_path = path.with_name(path.name + OPEN_SUFFIX)
        self._fh: IO[bytes] = self.writer_path.open("xb")
        self.writer = WARCWriter(self._fh, gzip=True, warc_version="1.1")
        info = self.writer.create_warcinfo_record(
            path.name, {"software": software, "format": "WARC File Format 1.1"}
        )
        info.rec_headers.replace_header("WARC-Date", warc_date(opened_at))
        self.writer.write_record(info)

    @property
    def size(self) -> int:
        return self._fh.tell()

    def close(self) -> Path:
        self._fh.close()
        self.writer_path.replace(self.path)
        return self.path


class ArchiveWriter:
    """The `on_response` hook of the HTTP client: archives feeds and pages as WARC.

    `clock` gives the current UTC time (file names and age rotation); tests pass a fake one.
    """

    def __init__(
        self,
        settings: ArchiveSettings,
        *,
        clock: Callable[[], datetime] = _utcnow,
        software: str = f"newsd/{__version__}",
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._software = software
        self._file: _WarcFile | None = None
        self._serial = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsd-archive")
        self.stats: Counter[str] = Counter()
        self.closed_files: list[Path] = []

    async def record(self, response: HttpResponse, kind: str) -> None:
        """Archive one response as a request/response pair; never raises for I/O failures."""
        if kind not in ARCHIVED_KINDS:
            self.stats["skip.kind"] += 1
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._write_safely, response, kind)

    async def close(self) -> None:
        """Close (and so publish) the current file and stop the writer thread."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._close_file)
        self._pool.shutdown(wait=True)

    def _write_safely(self, response: HttpResponse, kind: str) -> None:
        try:
            self._write(response, kind)
        except OSError as exc:
            self.stats["error"] += 1
            log.warning("archive.write_failed", url=response.final_url, error=str(exc))
            self._abandon_file()

    def _write(self, response: HttpResponse, kind: str) -> None:
        current = self._current(self._clock())
        pair = self._records(current.writer, response, kind)
        current.writer.write_request_response_pair(*pair)
        self.stats[f"written.{kind}"] += 1
        if current.size >= self._settings.max_bytes:
            self._close_file()

    def _current(self, now: datetime) -> _WarcFile:
        current = self._file
        if current is not None and now - current.opened_at >= timedelta(
            seconds=self._settings.max_age
        ):
            self._close_file()
            current = None
        if current is None:
            current = self._file = self._open(now)
        return current

    def _open(self, now: datetime) -> _WarcFile:
        self._settings.dir.mkdir(parents=True, exist_ok=True)
        stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        while True:
            path = self._settings.dir / f"newsd-{stamp}-{self._serial:05d}.warc.gz"
            self._serial += 1
            if not path.exists() and not path.with_name(path.name + OPEN_SUFFIX).exists():
                return _WarcFile(path, now, self._software)

    def _close_file(self) -> None:
        if self._file is not None:
            self.closed_files.append(self._file.close())
            self._file = None

    def _abandon_file(self) -> None:
        # After a failed write the file may end mid-record: publish what is there (readers
        # count the broken tail) rather than append more records after the damage.
        try:
            self._close_file()
        except OSError:
            self._file = None

    def _records(self, writer: WARCWriter, response: HttpResponse, kind: str) -> tuple[Any, Any]:
        kept, originals = response_headers(response)
        warc_headers = {
            "WARC-Date": warc_date(response.fetched_at),
            KIND_HEADER: kind,
            **originals,
            **_provenance(response),
        }
        status = f"{response.status} {_reason(response.status)}"
        resp = writer.create_warc_record(
            response.final_url,
            "response",
            payload=BytesIO(response.body),
            length=len(response.body),
            warc_headers_dict=warc_headers,
            http_headers=StatusAndHeaders(status, kept, protocol="HTTP/1.1"),
        )
        req = writer.create_warc_record(
            response.final_url,
            "request",
            payload=BytesIO(b""),
            length=0,
            http_headers=request_headers(response),
        )
        return req, resp


def _provenance(response: HttpResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    if response.url != response.final_url:
        headers[REQUESTED_URI_HEADER] = _clean(response.url)
    if response.redirects:
        hops = "; ".join(f"{hop.status} {hop.location}" for hop in response.redirects)
        headers["X-Newsd-Redirects"] = _clean(hops)
    return headers


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
