"""The cheap first pass of trafilatura and the cases it leaves to the full pass.

`scrapinghub_0ec95c72.html.gz` is a Korean news page of the Zyte benchmark (copied from the
shared corpora, test use only) where trafilatura's own extractor keeps only a caption and its
comparison with readability finds the article.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from trafilatura.utils import load_html

from daemon.extract.work import (
    DOUBT_CHARS,
    _in_doubt,
    _main_pass,
    _text,
    _trafilatura,
    extract_html,
)

PAGES = Path(__file__).parent / "pages"
SENTENCE = (
    "The council voted on Tuesday to expand the river flood defences after a decade of rising "
    "water levels in the old town, and engineers will start work in the spring. "
)


def _page(body: str) -> bytes:
    return (
        "<html><head><title>Flood defences</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        f"<article><h1>Flood defences</h1>{body}</article></body></html>"
    ).encode()


def _fast(html: bytes) -> object:
    return _trafilatura(load_html(html), "https://example.com/a", favor_precision=True, fast=True)


def test_a_long_paragraph_article_is_not_in_doubt() -> None:
    """An article of long paragraphs is settled by the fast pass, with the full pass's text."""
    html = _page("".join(f"<p>{SENTENCE * 3} Paragraph {n}.</p>" for n in range(8)))
    fast = _fast(html)
    assert not _in_doubt(fast)
    full = _trafilatura(load_html(html), "https://example.com/a", favor_precision=True)
    assert _text(_main_pass(load_html(html), "https://example.com/a", favor_precision=True)) == (
        _text(full)
    )


def test_a_short_result_is_in_doubt() -> None:
    """Fewer than DOUBT_CHARS characters send the page to the full pass."""
    fast = _fast(_page(f"<p>{SENTENCE}</p>"))
    assert 0 < len(_text(fast)) < DOUBT_CHARS
    assert _in_doubt(fast)


def test_a_table_dominated_result_is_in_doubt() -> None:
    """More tables than paragraphs in the result is the structural doubt readability settles."""

    def table(name: str) -> str:
        cells = "".join(f"<tr><td>{SENTENCE * 2}</td><td>{name} {n}</td></tr>" for n in range(4))
        return f"<table>{cells}</table>"

    fast = _fast(_page(f"<p>{SENTENCE}</p>{table('North')}{table('South')}"))
    assert len(_text(fast)) >= DOUBT_CHARS
    assert _in_doubt(fast)


def test_an_empty_result_is_in_doubt() -> None:
    """No result at all is in doubt."""
    assert _in_doubt(None)


def test_a_page_the_fast_pass_misses_gets_the_full_pass_text() -> None:
    """On a page where trafilatura's own extractor keeps only a caption, newsd still returns
    the article that the full pass (readability comparison) finds."""
    html = gzip.decompress((PAGES / "scrapinghub_0ec95c72.html.gz").read_bytes())
    url = "http://entermedia.co.kr/news/news_view.html?idx=8576"
    fast = _text(_fast(html))
    got = extract_html(html, url, favor_precision=True, declared_language=None)
    assert len(fast) < DOUBT_CHARS
    assert len(got.text) > 4 * len(fast)
    assert "엘제이의 일방적인 사진 공개로부터 비롯됐다" in got.text
