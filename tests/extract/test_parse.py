"""One parse per page, cheaper than trafilatura's loader and with the same tree.

The golden pages (`golden/pages/*.html.gz`, copied from the shared corpora) are real news pages
in several languages and encodings.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import lxml.etree
import pytest
from trafilatura.utils import load_html

from daemon.extract.work import extract_html, parse_html

PAGES = sorted((Path(__file__).parent / "golden" / "pages").glob("*.html.gz"))
PARAGRAPH = (
    "The council voted on Tuesday to expand the river flood defences after a decade of rising "
    "water levels in the old town, and engineers will start work in the spring. "
)


def _same_tree(body: bytes) -> None:
    expected, found = load_html(body), parse_html(body)
    assert (found is None) == (expected is None)
    if expected is not None:
        assert lxml.etree.tostring(found) == lxml.etree.tostring(expected)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name.split(".")[0])
def test_a_real_page_parses_to_the_tree_trafilatura_loads(path: Path) -> None:
    """Real pages give exactly the tree trafilatura's own `load_html` gives."""
    _same_tree(gzip.decompress(path.read_bytes()))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            f"<html><body><p>a\x00b\x0bc\x1fd\ufffee\uffff {PARAGRAPH}</p></body></html>".encode(),
            id="control-and-noncharacters",
        ),
        pytest.param(
            b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "x.dtd"/>\n'
            b"<html><body><p>doctype</p></body></html>",
            id="self-closed-doctype",
        ),
        pytest.param(b"<html lang='en'/>\n<body><p>self-closed html</p></body>", id="html-slash"),
        pytest.param(
            b'<?xml version="1.0" encoding="utf-8"?><html><body><p>xml</p></body></html>',
            id="xml-declaration",
        ),
        pytest.param(
            "<html><body><p>Ünïcödé — 新闻</p></body></html>".encode("cp1252", "replace"),
            id="not-utf-8",
        ),
        pytest.param(b"just some words, not markup at all", id="not-html"),
        pytest.param(b"", id="empty"),
    ],
)
def test_repairs_and_rejections_match_trafilatura(body: bytes) -> None:
    """Control characters, broken doctypes, self-closed <html>, XML declarations, other
    charsets and non-HTML are handled as trafilatura handles them."""
    _same_tree(body)


def test_an_absurd_date_is_ignored_when_the_page_declares_a_good_one() -> None:
    """The negative-year check runs only when no publication date is declared: a declared
    date is kept and no absurd claim is counted; without one, the claim is counted."""
    absurd = '<time datetime="-0001-11-30">'
    good = '<meta property="article:published_time" content="2024-02-01T10:00:00Z">'
    body = f"<article><h1>Flood defences</h1>{absurd}<p>{PARAGRAPH * 4}</p></article>"
    declared = extract_html(
        f"<html><head>{good}</head><body>{body}</body></html>".encode(),
        "https://example.com/a",
        declared_language=None,
    )
    assert declared.dropped_dates == 0
    assert declared.fields.published_at is not None
    assert declared.fields.published_at.isoformat() == "2024-02-01T10:00:00+00:00"
    undeclared = extract_html(
        f"<html><body>{body}</body></html>".encode(),
        "https://example.com/a",
        declared_language=None,
    )
    assert (undeclared.dropped_dates, undeclared.fields.published_at) == (1, None)


def test_warm_up_loads_the_public_suffix_list() -> None:
    """After `warm()` (what the fork server runs) the suffix list trafilatura's site-name
    heuristic reads is loaded, so no worker pays for it on its first page."""
    probe = (
        "import tld.utils\n"
        "from daemon.extract.work import warm\n"
        "warm()\n"
        "print(sum(1 for v in tld.utils.tld_names.values() if v))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) >= 1


def test_the_worker_returns_the_normalised_canonical_url() -> None:
    """The canonical URL is computed in the worker (off the event loop): the declared one
    resolved and normalised, or the page's own URL when the declared one is not believable."""
    head = '<link rel="canonical" href="/news/flood?utm_source=feed&b=2&a=1">'
    page = f"<html><head>{head}</head><body><article><p>{PARAGRAPH * 4}</p></article></body>"
    found = extract_html(
        page.encode(), "https://www.example.com/news/flood?x=1", declared_language=None
    )
    assert found.canonical_url == "https://www.example.com/news/flood?a=1&b=2"
    elsewhere = page.replace("/news/flood?", "https://partner.example.org/story?")
    found = extract_html(
        elsewhere.encode(), "https://www.example.com/news/flood?x=1", declared_language=None
    )
    assert found.canonical_url == "https://www.example.com/news/flood?x=1"
