"""The extraction stage: `article = await extractor(page)`, FetchedPage → Article.

HTML goes through trafilatura plus the page's declared metadata in a worker process; plain-text
captures go through our line cleaner.  The stage never stalls on one document: the pool kills a
worker past `timeout` seconds.

Status of the returned article (`Article.extraction`):
- `ok`: the page yielded at least `min_text_chars` of text, or it is walled (below) and the feed
  offers nothing better;
- `feed_content`: the page failed or yielded too little, and the feed's own content was used;
- `blocked`, `not_html`, `too_large`, `timeout`: the fetch failure (or an extraction timeout),
  passed through when the feed offers no content either;
- `empty`: nothing usable anywhere; still an Article, the pipeline decides what to do with it.

Access (`Article.fields.access`), separate from the status: `paywalled` or `registration` when
the page says it is not free (JSON-LD `isAccessibleForFree: false` on the article or a part of
it) or shows a pay or registration wall container, AND it yielded little text (a teaser);
`free` otherwise.  Metered sites declare every article not free and still serve it whole: those
are `free`.  None when no page was read (a fetch failure).

The text has one paragraph per line of the extraction, separated by a blank line; site names
lose copyright lines and taglines, and headlines the site's name (`extract/sitename.py`).

Worker crashes and parser errors with no feed content to fall back on raise `ExtractError`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import structlog

from daemon.dedup.fingerprint import FingerprintParams
from daemon.errors import ExtractError
from daemon.extract.credits import agency_name, split_authors
from daemon.extract.dates import plausible
from daemon.extract.feedtext import entry_text, html_to_text, page_canonical
from daemon.extract.language import detect_language
from daemon.extract.pool import ExtractPool
from daemon.extract.result import TEASER_CHARS, Extracted, paragraphs
from daemon.extract.sitename import clean_site_name, strip_site_suffix, url_section
from daemon.extract.tasks import html_task, text_task
from daemon.fetch.contract import content_charset
from daemon.observability.metrics import Metrics
from daemon.records import (
    Access,
    Article,
    ArticleFields,
    ExtractionStatus,
    FeedEntry,
    FetchedPage,
    precision_of,
)
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
        fingerprint: FingerprintParams | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.fingerprint = fingerprint  # dedup's, computed in the worker when given
        self.pool = pool or ExtractPool(
            workers=settings.workers,
            timeout=settings.timeout,
            max_tasks=settings.max_tasks_per_worker,
        )

    async def start(self) -> None:
        """Start the worker processes and wait until they answer."""
        self.pool.start()
        await self.pool.warm()

    async def close(self) -> None:
        """Let running documents finish and stop the workers."""
        await self.pool.close()

    async def __call__(self, page: FetchedPage) -> Article:
        """Extract one page; falls back to the feed's content when the page gives no text."""
        if page.failure is not None:
            return self._fallback(page, Extracted(text=""), page.failure)
        try:
            found = await self._run(page)
        except ExtractError as exc:
            if not entry_text(page.entry):
                if exc.reason == "timeout":
                    return self._fallback(page, Extracted(text=""), "timeout")
                raise
            return self._fallback(page, Extracted(text=""), "empty")
        return self._decide(page, found)

    async def _run(self, page: FetchedPage) -> Extracted:
        language = page.entry.language
        if page.is_text_capture:
            charset = content_charset(page.content_type)
            return await self.pool.run(
                text_task, self.fingerprint, page.body, declared_language=language, charset=charset
            )
        return await self.pool.run(
            html_task,
            self.fingerprint,
            page.body,
            page.final_url,
            favor_precision=self.settings.favor_precision,
            declared_language=language,
        )

    def _decide(self, page: FetchedPage, found: Extracted) -> Article:
        long_enough = len(found.text) >= self.settings.min_text_chars
        found = replace(found, fields=replace(found.fields, access=_access(found)))
        walled = found.fields.access != "free"
        if long_enough or (walled and not entry_text(page.entry)):
            return self._article(page, found, "ok")
        return self._fallback(page, found, "empty")

    def _fallback(self, page: FetchedPage, found: Extracted, status: ExtractionStatus) -> Article:
        feed_text = entry_text(page.entry)
        if feed_text and len(feed_text) >= len(found.text):
            language = detect_language(feed_text, declared=page.entry.language)
            if not self.settings.detect_language:
                language = page.entry.language
            fields = replace(found.fields, language=language)
            found = replace(found, text=feed_text, fields=fields, lead_terms=None, fingerprint=None)
            return self._article(page, found, "feed_content")
        return self._article(page, found, status)

    def _article(self, page: FetchedPage, found: Extracted, status: ExtractionStatus) -> Article:
        entry, url = page.entry, page.final_url
        if found.dropped_dates:
            self.metrics.incr("extract.date_dropped.published_at", found.dropped_dates)
        authors, agencies = _people(found.fields.authors + entry.authors)
        fields = self._plausible(found.fields, page)
        fields = fields.or_else(self._plausible(_entry_fields(entry), page))
        fields = fields.or_else(ArticleFields(section=url_section(url)))
        language = fields.language if self.settings.detect_language else entry.language
        site_name = clean_site_name(fields.site_name, url)
        return Article(
            entry=entry,
            url=url,
            canonical_url=found.canonical_url or page_canonical(found.canonical, url),
            text=paragraphs(found.text),
            fetched_at=page.fetched_at,
            extraction=status,
            fields=replace(
                fields,
                title=strip_site_suffix(fields.title, site_name, url),
                site_name=site_name,
                authors=authors,
                language=language,
                syndication=(found.agencies + agencies or (None,))[0],
            ),
            fingerprint=found.fingerprint,
            lead_terms=found.lead_terms,
        )

    def _plausible(self, fields: ArticleFields, page: FetchedPage) -> ArticleFields:
        """`fields` without the dated claims that are not believable (see
        `daemon.extract.dates`); each dropped one is counted and logged."""
        published = self._dated("published_at", page, fields.published_at)
        modified = self._dated("modified_at", page, fields.modified_at)
        precision = fields.published_at_precision if published else None
        return replace(
            fields, published_at=published, published_at_precision=precision, modified_at=modified
        )

    def _dated(self, name: str, page: FetchedPage, claim: datetime | None) -> datetime | None:
        if plausible(claim, now=page.fetched_at):
            return claim
        self.metrics.incr(f"extract.date_dropped.{name}")
        log.info("extract.date_dropped", field=name, value=claim.isoformat() if claim else None)
        return None


def _entry_fields(entry: FeedEntry) -> ArticleFields:
    """What the feed says about the item: the fallback for what the page did not say."""
    return ArticleFields(
        title=entry.title,
        summary=html_to_text(entry.summary) if entry.summary else None,
        published_at=entry.published_at,
        published_at_precision=precision_of(entry.published_at),
        modified_at=entry.updated_at,
    )


def _access(found: Extracted) -> Access:
    """A wall the page declares or shows counts only when the text is a teaser: metered sites
    declare every article not free and still serve it whole."""
    wall = found.wall or ("paywalled" if found.not_free else None)
    return wall if wall is not None and len(found.text) < TEASER_CHARS else "free"


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
