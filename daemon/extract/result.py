"""What an extraction worker sends back: `Extracted`, light enough for the event loop to import.

The event loop unpickles every result, so this module (and what it imports) is loaded there;
the parsers and their tables (trafilatura, justext, htmldate) stay in the workers
(daemon/extract/work.py, reached through daemon/extract/tasks.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from daemon.dedup.fingerprint import Fingerprint
from daemon.records import Access, ArticleFields
from daemon.stories.terms import LeadTerms

# Text shorter than this from a page that declares a paywall is a teaser: `paywalled`.
TEASER_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Extracted:
    """Everything one document yielded; the extractor turns it into an `Article`."""

    text: str
    fields: ArticleFields = field(default_factory=ArticleFields)
    agencies: tuple[str, ...] = ()
    canonical: str | None = None
    canonical_url: str | None = None  # `page_canonical` of the page, computed here, off the loop
    not_free: bool = False
    wall: Access | None = None  # a pay/registration wall container; looked for on teasers only
    dropped_dates: int = 0  # absurd dated claims the page made (negative or zero years)
    extra: dict[str, str] = field(default_factory=dict)
    fingerprint: Fingerprint | None = None  # dedup's, of `paragraphs(text)` (see `fingerprinted`)
    lead_terms: LeadTerms | None = None  # for the story stage, of `text` in `fields.language`


def paragraphs(text: str) -> str:
    """One paragraph per non-blank line, separated by a blank line (the event's `text`)."""
    return "\n\n".join(line.strip() for line in text.splitlines() if line.strip())
