"""The HTTP contract every fetching stage uses (feeds, article pages, robots.txt).

`PoliteClient` (in `daemon/fetch/client.py`) implements `HttpClient`: it is the one safe, polite
client of the daemon.  Callers get an `HttpResponse` or a `FetchError`; they never see httpx.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Literal, Protocol

RequestKind = Literal["feed", "page", "robots"]


@dataclass(frozen=True, slots=True)
class Hop:
    """One redirect answered on the way: its status and the URL it pointed to."""

    status: int
    location: str


def content_charset(content_type: str) -> str | None:
    """The `charset` parameter of a Content-Type value (RFC 9110 §8.3.2), lower-cased."""
    message = Message()
    message["content-type"] = content_type
    charset = message.get_content_charset()
    return charset or None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete, size-capped, decompressed response."""

    url: str  # the URL requested
    final_url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    fetched_at: datetime
    redirects: tuple[Hop, ...] = field(default=())
    raw_request_headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class HttpClient(Protocol):
    """GET one URL politely and safely.

    Raises `FetchError` (or `BlockedAddress`) for transport failures, refused addresses, bodies
    over the size caps and timeouts.  HTTP error statuses (4xx/5xx) are returned, not raised, so
    the caller decides what a 304, 410 or 429 means for it.
    """

    async def get(
        self,
        url: str,
        *,
        kind: RequestKind,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse: ...
