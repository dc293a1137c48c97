"""What runs inside an extraction worker: one document in, one picklable `Extracted` out.

Pure apart from CPU: no I/O, no clocks, no globals that carry state between documents
(trafilatura's `deduplicate` stays off: its cache is process-global and empties an article seen
a few times).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import charset_normalizer
import lxml.etree
import lxml.html
import trafilatura
from courlan.urlutils import get_tldinfo
from trafilatura.metadata import extract_metadata
from trafilatura.utils import decode_file, is_dubious_html, load_html

from daemon.dedup.fingerprint import FingerprintParams, fingerprint
from daemon.extract.credits import split_authors
from daemon.extract.dates import absurd_declaration
from daemon.extract.feedtext import page_canonical
from daemon.extract.language import detect_language
from daemon.extract.metadata import PageMeta, tree_metadata, wall_marker
from daemon.extract.postfilter import choose_body, needs_recall
from daemon.extract.result import TEASER_CHARS, Extracted, paragraphs
from daemon.extract.stoplist import share as share_stoplist
from daemon.extract.textclean import clean_capture
from daemon.records import Access, ArticleFields, precision_of
from daemon.stories.terms import lead_terms

# A fast result shorter than this is checked by the full pass (see `_in_doubt`): the
# shortest that sends every length-detectable difference of the dev split there.
DOUBT_CHARS = 1500
# Script types that carry page metadata (read by trafilatura's and htmldate's heuristics).
_JSON_SCRIPTS = frozenset({"application/ld+json", "application/settings+json"})


def fingerprinted(
    params: FingerprintParams | None, extract: Callable[..., Extracted], *args: Any, **kwargs: Any
) -> Extracted:
    """`extract(*args, **kwargs)`, with dedup's fingerprint of the article text it gives
    (`paragraphs(text)`) when `params` are given: computed here, off the event loop."""
    found = extract(*args, **kwargs)
    if params is None or not found.text:
        return found
    return replace(found, fingerprint=fingerprint(paragraphs(found.text), params))


def extract_html(
    body: bytes, url: str | None, *, favor_precision: bool = True, declared_language: str | None
) -> Extracted:
    """Main text and metadata of an HTML page (trafilatura + declared metadata + our filter)."""
    # One parse serves every reader: trafilatura copies a tree it is given, and the
    # metadata readers only read it (the heuristics run last, in case they do not).
    tree = parse_html(body)
    if tree is None:
        return Extracted(text="")
    meta = tree_metadata(tree)
    _drop_code(tree)
    doc = _main_pass(tree, url, favor_precision=favor_precision)
    precise = _text(doc)
    recall = None
    if favor_precision and needs_recall(precise, meta.article_body):
        recall = _text(_trafilatura(tree, url, favor_precision=False))
    if _needs_heuristic_metadata(meta):
        doc = _with_heuristics(doc, tree, url)
    # Only a page that declares no publication date gets htmldate's: only then can an absurd
    # declaration have misled it (the XPath reads every meta tag and <time> of the page).
    absurd = _absurd_dates(tree) if not meta.fields.published_at else 0
    title = meta.fields.title or _field(doc, "title")
    text = choose_body(
        precise, recall, meta.article_body, title=title, description=meta.fields.summary
    )
    wall = wall_marker(tree) if len(text) < TEASER_CHARS else None
    found = _merge(meta, doc, text, declared_language, wall=wall)
    if url:
        found = replace(found, canonical_url=page_canonical(meta.canonical, url))
    if absurd and not meta.fields.published_at:
        # htmldate drops the sign of "-0001-11-30" and reads a real date: not a claim to keep.
        fields = replace(found.fields, published_at=None, published_at_precision=None)
        return replace(found, fields=fields, dropped_dates=absurd)
    return found


# A short page without declared metadata: it takes every lazy path (heuristic metadata, the
# recall run, justext, language detection).
_WARM_PAGE = (
    b"<html><head><title>Warm-up page</title></head><body><article><h1>Warm-up page</h1>"
    b"<p>This is a short paragraph of prose, written only to exercise the extraction code "
    b"paths once before any real document arrives.</p></article></body></html>"
)


# trafilatura's parser settings with lxml's C-level element class lookup: lxml.html's default
# lookup is a Python method called for every element proxy any reader creates (a visible share
# of the extraction time under cProfile), and the form-field classes it picks are used by none.
_PARSER = lxml.html.HTMLParser(
    collect_ids=False,
    default_doctype=False,
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
)
_PARSER.set_element_class_lookup(
    lxml.etree.ElementDefaultClassLookup(
        element=lxml.html.HtmlElement,
        comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction,
        entity=lxml.html.HtmlEntity,
    )
)
# Characters XML cannot hold, as UTF-8 bytes: trafilatura's `INVALID_XML_CHARS`.  Deleting
# them from the bytes is one C pass, instead of its regular expression over the whole text.
_CONTROL_BYTES = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
_NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")  # U+FFFE, U+FFFF


def parse_html(body: bytes) -> Any:
    """The tree trafilatura's `load_html` builds from `body` (same decoding, repairs and
    rejection of non-HTML), built with less CPU; its own loader is the fallback where lxml
    refuses the text."""
    text = decode_file(body)
    beginning = text[:50].lower()
    data = text.encode("utf-8", "surrogatepass").translate(None, _CONTROL_BYTES)
    for noncharacter in _NONCHARACTERS:
        data = data.replace(noncharacter, b"")
    markup = _repair(data.decode("utf-8", "surrogatepass"), beginning)
    try:
        tree = lxml.html.fromstring(markup, parser=_PARSER)
    except (ValueError, lxml.etree.ParserError):  # an XML declaration, an empty document
        return load_html(body)
    if tree is None or len(tree) < 1:
        return load_html(body)
    return None if is_dubious_html(beginning) and len(tree) < 2 else tree


_DOCTYPE = re.compile("^< ?! ?DOCTYPE[^>]*/[^<>]*>", re.IGNORECASE)
_SELF_CLOSED_HTML = re.compile(r"(<html.*?)\s*/>", re.IGNORECASE)


def _repair(markup: str, beginning: str) -> str:
    """trafilatura's `repair_faulty_html` less the character filter (done on the bytes)."""
    if "doctype" in beginning:
        first, _, rest = markup.partition("\n")
        markup = _DOCTYPE.sub("", first, count=1) + "\n" + rest
    for line in markup[:4096].splitlines()[:4]:
        if "<html" in line and line.endswith("/>"):
            return _SELF_CLOSED_HTML.sub(r"\1>", markup, count=1)
    return markup


def warm() -> None:
    """Build the libraries' lazily loaded state now (see daemon/extract/preload.py)."""
    share_stoplist()
    extract_html(_WARM_PAGE, "https://www.example.com/warm", declared_language=None)
    fingerprint("Warm-up text")
    # The public-suffix list: trafilatura's site-name heuristic reads it when its quick
    # pattern fails on a URL, which the warm-up page's does not.
    get_tldinfo("https://www.example.com/warm")


def extract_text(
    body: bytes, *, declared_language: str | None, charset: str | None = None
) -> Extracted:
    """Body and metadata of a plain-text page capture; `charset` is the one the server
    declared (Content-Type), if any."""
    capture = clean_capture(decode_text(body, charset))
    found = ArticleFields(
        title=capture.title,
        summary=capture.summary,
        authors=capture.authors,
        published_at=capture.published_at,
        published_at_precision=precision_of(capture.published_at),
        site_name=capture.site_name,
        language=detect_language(capture.text, declared=declared_language),
    )
    agencies = (capture.syndication,) if capture.syndication else ()
    return Extracted(
        text=capture.text,
        fields=found,
        agencies=agencies,
        lead_terms=lead_terms(capture.text, found.language),
    )


def decode_text(body: bytes, charset: str | None) -> str:
    """A plain-text body as text: by its byte-order mark, else as UTF-8 where the bytes are
    valid UTF-8 (text in another charset practically never is), else in the declared charset,
    else in charset_normalizer's guess."""
    bom = _BOMS.get(body[:3]) or _BOMS.get(body[:2])
    for encoding in (bom, "utf-8", charset):
        if encoding is None:
            continue
        try:
            return body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    best = charset_normalizer.from_bytes(body).best()
    return str(best) if best is not None else body.decode("utf-8", errors="replace")


_BOMS = {b"\xef\xbb\xbf": "utf-8-sig", b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16"}


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


_META_NAME = (
    "translate(concat(@property, @name, @itemprop), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
    "'abcdefghijklmnopqrstuvwxyz')"
)
_DATE_VALUES = "//time/@datetime | //meta[{}]/@content".format(
    " or ".join(f"contains({_META_NAME}, '{word}')" for word in ("date", "published", "modified"))
)


def _absurd_dates(tree: Any) -> int:
    """Declared dates (meta tags, `<time datetime>`) with a negative or zero year."""
    return sum(1 for value in tree.xpath(_DATE_VALUES) if absurd_declaration(str(value)))


def _needs_heuristic_metadata(meta: PageMeta) -> bool:
    """Declared metadata is cheap; trafilatura's heuristics cost ~40 % more time per page."""
    return not (meta.fields.title and meta.fields.published_at)


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
    meta: PageMeta, doc: Any, text: str, declared: str | None, *, wall: Access | None
) -> Extracted:
    found = meta.fields.or_else(_doc_fields(doc))
    lang_prior = declared or found.language
    language = detect_language(text, declared=lang_prior) if text else lang_prior
    return Extracted(
        text=text,
        fields=replace(found, language=language),
        agencies=meta.agencies,
        canonical=meta.canonical,
        not_free=meta.not_free,
        wall=wall,
        lead_terms=lead_terms(text, language),
    )


def _doc_fields(doc: Any) -> ArticleFields:
    """The fields trafilatura's heuristics found (the fallback for what a page did not declare)."""
    return ArticleFields(
        title=_field(doc, "title"),
        summary=_field(doc, "description"),
        authors=tuple(split_authors(_field(doc, "author") or "")),
        published_at=(date := _date(_field(doc, "date"))),
        published_at_precision="day" if date else None,
        site_name=_field(doc, "sitename"),
        image=_field(doc, "image"),
        tags=_doc_tags(doc),
    )


def _date(value: object) -> datetime | None:
    """trafilatura's (htmldate's) YYYY-MM-DD, read as midnight UTC: it carries no zone."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _doc_tags(doc: Any) -> tuple[str, ...]:
    raw = list(_field(doc, "tags") or []) + list(_field(doc, "categories") or [])
    return tuple(dict.fromkeys(str(t).strip() for t in raw if str(t).strip()))
