"""What runs inside an extraction worker: one document in, one picklable `Extracted` out.

Pure apart from CPU: no I/O, no clocks, no globals that carry state between documents
(trafilatura's `deduplicate` stays off: its cache is process-global and empties an article seen
a few times).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import trafilatura
from trafilatura.metadata import extract_metadata
from trafilatura.utils import load_html

from daemon.extract.credits import split_authors
from daemon.extract.language import detect_language
from daemon.extract.metadata import PageMeta, has_paywall_marker, tree_metadata
from daemon.extract.postfilter import choose_body, needs_recall
from daemon.extract.textclean import clean_capture

# Text shorter than this from a page that declares a paywall is a teaser: `paywalled`.
TEASER_CHARS = 1000
# A fast result shorter than this is checked by the full pass (see `_in_doubt`): the
# shortest that sends every length-detectable difference of the dev split there.
DOUBT_CHARS = 1500
# Script types that carry page metadata (read by trafilatura's and htmldate's heuristics).
_JSON_SCRIPTS = frozenset({"application/ld+json", "application/settings+json"})


@dataclass(frozen=True, slots=True)
class Extracted:
    """Everything one document yielded; the extractor turns it into an `Article`."""

    title: str | None
    text: str
    summary: str | None = None
    authors: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    published_at: datetime | None = None
    modified_at: datetime | None = None
    site_name: str | None = None
    image: str | None = None
    tags: tuple[str, ...] = ()
    canonical: str | None = None
    language: str | None = None
    not_free: bool = False
    paywall_marker: bool = False  # a paywall container; only looked for on teaser-length text
    extra: dict[str, str] = field(default_factory=dict)


def extract_html(
    body: bytes, url: str | None, *, favor_precision: bool = True, declared_language: str | None
) -> Extracted:
    """Main text and metadata of an HTML page (trafilatura + declared metadata + our filter)."""
    # One parse serves every reader: trafilatura copies a tree it is given, and the
    # metadata readers only read it (the heuristics run last, in case they do not).
    tree = load_html(body)
    if tree is None:
        return Extracted(title=None, text="")
    meta = tree_metadata(tree)
    _drop_code(tree)
    doc = _main_pass(tree, url, favor_precision=favor_precision)
    precise = _text(doc)
    recall = None
    if favor_precision and needs_recall(precise, meta.article_body):
        recall = _text(_trafilatura(tree, url, favor_precision=False))
    if _needs_heuristic_metadata(meta):
        doc = _with_heuristics(doc, tree, url)
    title = meta.title or _field(doc, "title")
    text = choose_body(
        precise, recall, meta.article_body, title=title, description=meta.description
    )
    marker = len(text) < TEASER_CHARS and has_paywall_marker(tree)
    return _merge(meta, doc, text, declared_language, paywall_marker=marker)


# A short page without declared metadata: it takes every lazy path (heuristic metadata, the
# recall run, justext, language detection).
_WARM_PAGE = (
    b"<html><head><title>Warm-up page</title></head><body><article><h1>Warm-up page</h1>"
    b"<p>This is a short paragraph of prose, written only to exercise the extraction code "
    b"paths once before any real document arrives.</p></article></body></html>"
)


def warm() -> None:
    """Build the libraries' lazily loaded state now (see daemon/extract/preload.py)."""
    extract_html(_WARM_PAGE, "https://www.example.com/warm", declared_language=None)


def extract_text(body: bytes, *, declared_language: str | None) -> Extracted:
    """Body and metadata of a plain-text page capture."""
    capture = clean_capture(body.decode("utf-8", errors="replace"))
    authors = capture.authors
    return Extracted(
        title=capture.title,
        text=capture.text,
        summary=capture.summary,
        authors=authors,
        agencies=(capture.syndication,) if capture.syndication else (),
        published_at=capture.published_at,
        site_name=capture.site_name,
        language=detect_language(capture.text, declared=declared_language),
    )


def _drop_code(tree: Any) -> None:
    """Remove scripts and styles, except the JSON metadata scripts the readers look at.

    trafilatura discards them too, but only after copying the tree a few times and running
    its XPath pruning over them; dropping them once first saves ~5 % of its time, with the
    same output on every dev page.
    """
    for node in list(tree.iter("script", "style")):
        if (node.get("type") or "").strip().lower() not in _JSON_SCRIPTS:
            node.drop_tree()  # keeps the tail text


def _main_pass(tree: Any, url: str | None, *, favor_precision: bool) -> Any:
    """trafilatura's own extractor first; its comparison with readability and justext only when
    the result is in doubt.

    The comparison costs about 40 % of trafilatura's time.  On the 970 pages of the four body
    corpora it changed the result of 88; `_in_doubt` sends 245 pages to the full pass, among
    them 84 of those 88 (the threshold was set on the dev split; body F1 is unchanged on every
    corpus, `bench/extract_quality.py`).
    """
    fast = _trafilatura(tree, url, favor_precision=favor_precision, fast=True)
    if not _in_doubt(fast):
        return fast
    return _trafilatura(tree, url, favor_precision=favor_precision)


def _in_doubt(doc: Any) -> bool:
    """Where trafilatura's comparison can replace its own result: little text (readability or
    justext may find more), no paragraph text or more tables than paragraphs (readability is
    preferred over a structurally deficient body)."""
    body = _field(doc, "body")
    if body is None or len(_text(doc)) < DOUBT_CHARS:
        return True
    return not body.xpath(".//p//text()") or len(body.findall(".//table")) > len(
        body.findall(".//p")
    )


def _trafilatura(tree: Any, url: str | None, *, favor_precision: bool, fast: bool = False) -> Any:
    return trafilatura.bare_extraction(
        tree,
        url=url,
        fast=fast,
        favor_precision=favor_precision,
        include_comments=False,
        include_tables=True,
        with_metadata=False,
        deduplicate=False,
    )


def _needs_heuristic_metadata(meta: PageMeta) -> bool:
    """Declared metadata is cheap; trafilatura's heuristics cost ~40 % more time per page."""
    return not (meta.title and meta.published_at)


def _with_heuristics(doc: Any, tree: Any, url: str | None) -> Any:
    """trafilatura's metadata heuristics, with the body text of the extraction kept."""
    try:
        found = extract_metadata(tree, url, None, extensive=False)
    except (ValueError, TypeError, AttributeError):
        return doc
    if doc is not None and found is not None:
        found.text = doc.text
    return found if found is not None else doc


def _field(doc: Any, name: str) -> Any:
    return getattr(doc, name, None) if doc is not None else None


def _text(doc: Any) -> str:
    return str(_field(doc, "text") or "")


def _merge(
    meta: PageMeta, doc: Any, text: str, declared: str | None, *, paywall_marker: bool
) -> Extracted:
    lang_prior = declared or meta.language
    return Extracted(
        title=meta.title or _field(doc, "title"),
        text=text,
        summary=meta.description or _field(doc, "description"),
        authors=meta.authors or tuple(split_authors(_field(doc, "author") or "")),
        agencies=meta.agencies,
        published_at=meta.published_at or _date(_field(doc, "date")),
        modified_at=meta.modified_at,
        site_name=meta.site_name or _field(doc, "sitename"),
        image=meta.image or _field(doc, "image"),
        tags=meta.tags or _doc_tags(doc),
        canonical=meta.canonical,
        language=detect_language(text, declared=lang_prior) if text else lang_prior,
        not_free=meta.not_free,
        paywall_marker=paywall_marker,
    )


def _date(value: object) -> datetime | None:
    """trafilatura's (htmldate's) YYYY-MM-DD, read as midnight UTC: it carries no zone."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _doc_tags(doc: Any) -> tuple[str, ...]:
    raw = list(_field(doc, "tags") or []) + list(_field(doc, "categories") or [])
    return tuple(dict.fromkeys(str(t).strip() for t in raw if str(t).strip()))
