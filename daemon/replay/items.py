"""What the archive readers yield, and what replay hands to the pipeline.

    archive file / capture dir ─read→ Capture ─join with feed entries→ ReplayItem(FetchedPage)

A `Capture` is one stored HTTP exchange (or one capture file): a feed or a page, with the URL and
the time it was captured.  `source.py` turns page captures into `FetchedPage`s, the very record
live fetching produces, so extraction, dedup and publishing cannot tell replay from live.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from daemon.records import FetchedPage

CaptureKind = Literal["feed", "page"]
Stats = Counter[str]

# Synthetic URLs of capture files without a known URL live under `.invalid`, a TLD reserved never
# to resolve (RFC 6761 §6.4), so they can never be confused with, or fetched as, a real page.
SYNTHETIC_URL_BASE = "https://replay.invalid/"


ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")


def is_archive_file(path: Path) -> bool:
    """True for WARC and ARC file names (plain or gzipped)."""
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def synthetic_url(relative: str) -> str:
    """The stable URL of a capture file known only by its path relative to the replayed dir."""
    return SYNTHETIC_URL_BASE + quote(relative.replace("\\", "/"), safe="/-._~")


@dataclass(frozen=True, slots=True)
class CaptureMeta:
    """Optional facts about a capture from a sidecar or a manifest line."""

    url: str | None = None
    final_url: str | None = None
    fetched_at: datetime | None = None
    content_type: str | None = None
    feed_url: str | None = None
    guid: str | None = None
    title: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Capture:
    """One archived feed or page body with the URL and time it was captured."""

    kind: CaptureKind
    url: str  # the URL that was requested (a feed entry's link for pages)
    final_url: str  # the URL the body came from (after redirects)
    status: int
    content_type: str
    body: bytes
    fetched_at: datetime | None  # None: not recorded (a capture file without sidecar/manifest)
    source: Path
    archive: str  # stable name of the archive (file or directory name), used as Origin.id
    is_text: bool = False
    meta: CaptureMeta = field(default_factory=CaptureMeta)


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One replayed page, ready for the extract stage, with where it was read from."""

    page: FetchedPage
    source: Path
    run_id: str
