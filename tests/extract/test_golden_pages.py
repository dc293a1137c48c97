"""Golden pairs from the shared corpora: gzipped HTML + the expected extraction.

Regenerate with `scripts/regen_golden.py pages` after an intended change and review the diff.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from daemon.extract.work import extract_html

PAGES = Path(__file__).parent / "golden" / "pages"
NAMES = sorted(p.name.removesuffix(".html.gz") for p in PAGES.glob("*.html.gz"))
FIELDS = ("title", "paragraphs", "authors", "agencies", "published_at", "site_name", "language")


@pytest.mark.parametrize("name", NAMES)
def test_page_matches_golden(name: str) -> None:
    """Each golden page still extracts to the recorded title, paragraphs and metadata."""
    expected = json.loads((PAGES / f"{name}.json").read_text())
    html = gzip.decompress((PAGES / f"{name}.html.gz").read_bytes())
    got = extract_html(html, expected["url"], favor_precision=True, declared_language=None)
    actual = {
        "title": got.fields.title,
        "paragraphs": got.text.split("\n") if got.text else [],
        "authors": list(got.fields.authors),
        "agencies": list(got.agencies),
        "published_at": got.fields.published_at.isoformat() if got.fields.published_at else None,
        "site_name": got.fields.site_name,
        "language": got.fields.language,
    }
    assert actual == {k: expected[k] for k in FIELDS}


def test_every_corpus_has_golden_pages() -> None:
    """Golden pages cover each benchmark corpus."""
    corpora = {n.split("__")[0] for n in NAMES}
    assert {"scrapinghub", "l3s-gn1", "trafilatura-eval", "fundus", "readability"} <= corpora
