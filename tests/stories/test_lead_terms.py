"""The lead's stems travel from the extraction worker: the stage gets the same profile as if it
had read the text itself, and never uses stems computed for other text or another language."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from daemon.extract.extractor import Extractor
from daemon.extract.pool import ExtractPool
from daemon.extract.work import extract_text
from daemon.records import FeedEntry, FetchedPage, Origin
from daemon.settings import ExtractSettings
from daemon.stories.terms import lead_terms, profile

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
NOW = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pool() -> Iterator[ExtractPool]:
    shared = ExtractPool(workers=1, timeout=10.0, max_tasks=50)
    shared.start()
    yield shared
    shared.close_now()


def _page(body: bytes, *, summary: str | None = None) -> FetchedPage:
    url = "https://news.example.com/a/1"
    entry = FeedEntry(origin=Origin(kind="feed", id="f"), url=url, summary=summary)
    return FetchedPage(entry, url, 200, "text/plain", body, NOW, is_text_capture=True)


def test_the_lead_ignores_blank_lines_and_indentation() -> None:
    """A text and its re-paragraphed copy (as the extractor publishes it) have the same lead."""
    text = "  Troops left Izyum on Saturday.\n\n\n   Officials in Kharkiv said so.  \n" * 200
    paragraphs = "\n\n".join(line.strip() for line in text.splitlines() if line.strip())
    assert lead_terms(text, "en") == lead_terms(paragraphs, "en")


def test_a_profile_from_the_lead_equals_one_from_the_text() -> None:
    """Given the worker's `LeadTerms`, the stage builds the very profile it would have built."""
    text = (SEEDS / "002_700ee0658f1fa043.txt").read_text(encoding="utf-8")
    lead = lead_terms(text, "en")
    assert profile("Izyum retaken", text, "en", lead=lead) == profile("Izyum retaken", text, "en")


def test_a_lead_of_another_language_is_not_used() -> None:
    """Stems computed for a language the article no longer has are computed again."""
    text = "Les troupes ont quitté Izioum samedi, selon les autorités de Kharkiv. " * 20
    wrong = lead_terms(text, "en")
    assert profile(None, text, "fr", lead=wrong) == profile(None, text, "fr")
    assert profile(None, text, "fr", lead=wrong) != profile(None, text, "en")


def test_the_worker_computes_the_lead_of_the_text_it_returns() -> None:
    """`extract_text` returns the `LeadTerms` of its text in its language."""
    found = extract_text((SEEDS / "003_7083f970c6a411da.txt").read_bytes(), declared_language="en")
    assert found.lead_terms == lead_terms(found.text, found.fields.language)


async def test_an_extracted_article_carries_its_lead(pool: ExtractPool) -> None:
    """Through the pool and the extractor, the article's lead is that of its published text."""
    extractor = Extractor(ExtractSettings(), pool=pool)
    article = await extractor(_page((SEEDS / "002_700ee0658f1fa043.txt").read_bytes()))
    assert article.lead_terms is not None
    assert article.lead_terms == lead_terms(article.text, article.fields.language)


async def test_feed_text_replacing_the_page_drops_the_page_lead(pool: ExtractPool) -> None:
    """When the feed's text stands in for the page's, the page's lead does not travel with it."""
    extractor = Extractor(ExtractSettings(), pool=pool)
    summary = "<p>" + "The council approved the plan on Monday after a long debate. " * 40 + "</p>"
    article = await extractor(_page(b"Short page.", summary=summary))
    assert article.extraction == "feed_content"
    assert article.lead_terms is None
