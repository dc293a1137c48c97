"""The `PageFetcher` stage: `page = await fetcher(entry)` turns a `FeedEntry` into a `FetchedPage`.

Outcomes, and whether they are returned or raised:

    returned FetchedPage(failure=...)           raised FetchError (reason)
    ---------------------------------           --------------------------
    None        2xx HTML (or sniffed HTML)      not_found     404
    None        2xx text/plain → is_text_capture gone         410
    blocked     401, 403, 429, robots.txt says no  server_error  5xx after `fetch.retries` retries
    not_html    2xx of any other content type   http_error    other 4xx, unfollowed 3xx
    too_large   body over a cap                 connect_error, tls_error, protocol_error, ...
    timeout     still timing out after retries  blocked_address  (BlockedAddress: SSRF guard)

A returned failure is a page the pipeline can still publish from the feed's own content (the
`extraction` status says why there is no page text).  A raised failure (404, 5xx, ...) is raised
only when the entry carries no text of its own; with feed text it is returned as an `empty` page
too, so the extractor publishes the feed's content (`extraction: feed_content`), as for a 403.
Retryable errors (timeouts, connection errors, 5xx) are retried with `daemon.retry` first.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime

from daemon.errors import FetchError
from daemon.extract.feedtext import entry_text
from daemon.fetch.contract import HttpClient, HttpResponse
from daemon.fetch.robots import Robots
from daemon.records import ExtractionStatus, FeedEntry, FetchedPage
from daemon.retry import Backoff, Sleep, parse_retry_after, retry
from daemon.settings import FetchSettings

BLOCKED_STATUSES = frozenset({401, 403, 429})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})
# FetchError reasons that still make a page (without a body) rather than an error.
_RETURNED_FAILURES: dict[str, ExtractionStatus] = {"timeout": "timeout", "too_large": "too_large"}


class PageFetcher:
    """Fetch the article page of each entry, politely and safely, through one `HttpClient`."""

    def __init__(
        self,
        settings: FetchSettings,
        http: HttpClient,
        *,
        robots: Robots | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._http = http
        self._robots = robots or Robots(http, settings)
        self._backoff = backoff or Backoff(
            retries=settings.retries, base=settings.backoff_base, cap=settings.backoff_cap
        )
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._now = now

    async def __call__(self, entry: FeedEntry) -> FetchedPage:
        """The fetched page of `entry`; see the module docstring for returned vs raised."""
        if not await self._robots.allowed(entry.url):
            return self._failed(entry, "blocked", status=0)
        try:
            response = await retry(
                lambda: self._attempt(entry.url), self._backoff, rng=self._rng, sleep=self._sleep
            )
        except FetchError as exc:
            failure = _RETURNED_FAILURES.get(exc.reason)
            if failure is None and not entry_text(entry):
                raise
            # No page, but the feed's own text: the extractor falls back to it.
            return self._failed(entry, failure or "empty", status=exc.status or 0)
        return self._page(entry, response)

    async def _attempt(self, url: str) -> HttpResponse:
        response = await self._http.get(url, kind="page")
        _raise_for_status(response)
        return response

    def _page(self, entry: FeedEntry, response: HttpResponse) -> FetchedPage:
        if response.status in BLOCKED_STATUSES:
            return self._failed(entry, "blocked", response=response)
        kind = page_kind(response.content_type, response.body)
        if kind == "other":
            return self._failed(entry, "not_html", response=response)
        return FetchedPage(
            entry=entry,
            final_url=response.final_url,
            status=response.status,
            content_type=response.headers.get("content-type", ""),  # with its charset
            body=response.body,
            fetched_at=response.fetched_at,
            is_text_capture=kind == "text",
        )

    def _failed(
        self,
        entry: FeedEntry,
        failure: ExtractionStatus,
        *,
        status: int = 0,
        response: HttpResponse | None = None,
    ) -> FetchedPage:
        return FetchedPage(
            entry=entry,
            final_url=response.final_url if response else entry.url,
            status=response.status if response else status,
            content_type=response.content_type if response else "",
            body=b"",
            fetched_at=response.fetched_at if response else self._now(),
            failure=failure,
        )


def page_kind(content_type: str, body: bytes) -> str:
    """ "html", "text" (a plain-text capture) or "other"; an unlabelled body is sniffed."""
    if content_type in HTML_TYPES:
        return "html"
    if content_type in TEXT_TYPES:
        return "text"
    if not content_type:
        head = body[:1024].lstrip().lower()
        return "html" if head.startswith((b"<!doctype html", b"<html")) else "other"
    return "other"


def _raise_for_status(response: HttpResponse) -> None:
    status = response.status
    if 200 <= status < 300 or status in BLOCKED_STATUSES:
        return
    detail = f"{status} from {response.final_url}"
    if status >= 500:
        delay = parse_retry_after(response.headers.get("retry-after"), now=response.fetched_at)
        raise FetchError("server_error", detail, retryable=True, retry_after=delay, status=status)
    reason = {404: "not_found", 410: "gone"}.get(status, "http_error")
    raise FetchError(reason, detail, status=status)
