"""The extraction stage: `article = await extractor(page)`, FetchedPage → Article.

HTML goes through trafilatura plus the page's declared metadata in a worker process; plain-text
captures go through our line cleaner.  The stage never stalls on one document: the pool kills a
worker past `timeout` seconds.

Status of the returned article (`Article.extraction`):
- `ok`: the page yielded at least `min_text_chars` of text;
- `paywalled`: the page says it is not free (JSON-LD `isAccessibleForFree: false` on the article
  or a part of it) or shows a paywall container, AND it yielded little text (a teaser); the text
  is the best available.  Metered sites declare every article not free and still serve it whole:
  those are `ok`;
- `feed_content`: the page failed or yielded too little, and the feed's own content was used;
- `blocked`, `not_html`, `too_large`, `timeout`: the fetch failure (or an extraction timeout),
  passed through when the feed offers no content either;
- `empty`: nothing usable anywhere; still an Article, the pipeline decides what to do with it.

Worker crashes and parser errors with no feed content to fall back on raise `ExtractError`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import structlog

from daemon.dedup.keys import canonical_url
from daemon.errors import ExtractError
from daemon.extract.credits import agency_name, split_authors
from daemon.extract.dates import plausible
from daemon.extract.feedtext import entry_text, html_to_text, sane_canonical
from daemon.extract.language import detect_language
from daemon.extract.pool import ExtractPool
from daemon.extract.work import TEASER_CHARS, Extracted, extract_html, extract_text
from daemon.fetch.http import content_charset
from daemon.observability.metrics import Metrics
from daemon.records import Article, ExtractionStatus, FetchedPage
from daemon.settings import ExtractSettings

log = structlog.get_logger(__name__)


class Extractor:
    """FetchedPage → Article, with extraction in a process pool (see module docstring)."""

    def __init__(
        self,
        settings: ExtractSettings,
        *,
        pool: ExtractPool | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.pool = pool or ExtractPool(
            workers=settings.workers,
            timeout=settings.timeout,
            max_tasks=settings.max_tasks_per_worker,
        )

    async def start(self) -> None:
        """Start the worker processes."""
        self.pool.start()

    async def close(self) -> None:
        """Let running documents finish and stop the workers."""
        await self.pool.close()

    async def __call__(self, page: FetchedPage) -> Article:
        """Extract one page; falls back to the feed's content when the page gives no text."""
        if page.failure is not None:
            return self._fallback(page, Extracted(title=None, text=""), page.failure)
        try:
            found = await self._run(page)
        except ExtractError as exc:
            if not entry_text(page.entry):
                if exc.reason == "timeout":
                    return self._fallback(page, Extracted(title=None, text=""), "timeout")
                raise
            return self._fallback(page, Extracted(title=None, text=""), "empty")
        return self._decide(page, found)

    async def _run(self, page: FetchedPage) -> Extracted:
        language = page.entry.language
        if page.is_text_capture:
            charset = content_charset(page.content_type)
            return await self.pool.run(
                extract_text, page.body, declared_language=language, charset=charset
            )
        return await self.pool.run(
            extract_html,
            page.body,
            page.final_url,
            favor_precision=self.settings.favor_precision,
            declared_language=language,
        )

    def _decide(self, page: FetchedPage, found: Extracted) -> Article:
        long_enough = len(found.text) >= self.settings.min_text_chars
        # A page declaring a paywall but yielding more text than a teaser was readable anyway
        # (metered sites declare every article not free).
        says_paid = found.not_free or found.paywall_marker
        paywalled = says_paid and len(found.text) < TEASER_CHARS
        if paywalled and (long_enough or not entry_text(page.entry)):
            return self._article(page, found, "paywalled")
        if long_enough:
            return self._article(page, found, "ok")
        return self._fallback(page, found, "empty")

    def _fallback(self, page: FetchedPage, found: Extracted, status: ExtractionStatus) -> Article:
        feed_text = entry_text(page.entry)
        if feed_text and len(feed_text) >= len(found.text):
            language = detect_language(feed_text, declared=page.entry.language)
            if not self.settings.detect_language:
                language = page.entry.language
            found = replace(found, text=feed_text, language=language)
            return self._article(page, found, "feed_content")
        return self._article(page, found, status)

    def _article(self, page: FetchedPage, found: Extracted, status: ExtractionStatus) -> Article:
        entry = page.entry
        if found.dropped_dates:
            self.metrics.incr("extract.date_dropped.published_at", found.dropped_dates)
        authors, agencies = _people(found.authors + entry.authors)
        summary = html_to_text(entry.summary) if entry.summary else None
        return Article(
            entry=entry,
            url=page.final_url,
            canonical_url=_canonical(found.canonical, page.final_url),
            title=found.title or entry.title,
            text=found.text,
            fetched_at=page.fetched_at,
            extraction=status,
            summary=found.summary or summary or None,
            authors=authors,
            language=found.language if self.settings.detect_language else entry.language,
            published_at=self._dated("published_at", page, found.published_at, entry.published_at),
            modified_at=self._dated("modified_at", page, found.modified_at, entry.updated_at),
            site_name=found.site_name,
            image=found.image,
            tags=found.tags,
            syndication=(found.agencies + agencies or (None,))[0],
        )

    def _dated(self, name: str, page: FetchedPage, *claims: datetime | None) -> datetime | None:
        """The first claim that is believable (see `daemon.extract.dates`); each absurd one is
        dropped, counted and logged."""
        for claim in claims:
            if plausible(claim, now=page.fetched_at):
                return claim
            self.metrics.incr(f"extract.date_dropped.{name}")
            log.info("extract.date_dropped", field=name, value=claim.isoformat() if claim else None)
        return None


def _people(names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Authors deduped (case-insensitively), "By" stripped, wire agencies split out."""
    people: dict[str, str] = {}
    agencies: list[str] = []
    for raw in names:
        agency = agency_name(raw)
        if agency:
            agencies.append(agency)
            continue
        for name in split_authors(raw):
            people.setdefault(name.casefold(), name)
    return tuple(people.values()), tuple(dict.fromkeys(agencies))


def _canonical(declared: str | None, final_url: str) -> str:
    return canonical_url(sane_canonical(declared, final_url) or final_url)
