"""Pure: the structured metadata a page declares (JSON-LD, OpenGraph, meta tags, canonical link).

What a publisher declares about its own article is more reliable than any heuristic, so the
extractor prefers these fields over trafilatura's guesses when they are consistent (a title that
resembles the visible headline, a date that parses).  Dates are returned timezone-aware; a
declared date without a zone is read as UTC.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import lxml.etree
import lxml.html

from daemon.extract.credits import agency_name, split_authors
from daemon.records import Access, ArticleFields, DatePrecision

_ARTICLE_TYPES = frozenset(
    {
        "newsarticle",
        "article",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "backgroundnewsarticle",
        "reviewnewsarticle",
        "blogposting",
        "liveblogposting",
        "report",
        "scholarlyarticle",
        "techarticle",
    }
)
# schema.org article types → `article_type` (only what the page declares is exposed).
_TYPE_NAMES = {
    "newsarticle": "news",
    "reportagenewsarticle": "news",
    "article": "article",
    "analysisnewsarticle": "analysis",
    "opinionnewsarticle": "opinion",
    "backgroundnewsarticle": "background",
    "reviewnewsarticle": "review",
    "askpublicnewsarticle": "news",
    "blogposting": "blog",
    "liveblogposting": "live",
    "report": "report",
    "scholarlyarticle": "scholarly",
    "techarticle": "tech",
    "satiricalarticle": "satire",
}
_PAYWALL_CLASSES = re.compile(
    r"paywall|piano-offer|tp-modal|subscriber-only|premium-content|meteredContent", re.I
)
_REGWALL_CLASSES = re.compile(r"regwall|registration-wall|register-wall|login-wall", re.I)
_DATE_ONLY = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*")
_HAS_SECONDS = re.compile(r"T\d{2}:\d{2}:\d{2}")


@dataclass(frozen=True, slots=True)
class PageMeta:
    """Metadata a page declares about itself; every field is None or empty when absent."""

    fields: ArticleFields = field(default_factory=ArticleFields)
    agencies: tuple[str, ...] = ()
    canonical: str | None = None
    article_body: str | None = None
    not_free: bool = False  # JSON-LD isAccessibleForFree = false, on the article or a part


def iso_precision(value: object) -> DatePrecision | None:
    """The finest unit an ISO 8601 string states: `day`, `minute` or `second` (None: no date)."""
    if parse_date_iso(value) is None or not isinstance(value, str):
        return None
    if _DATE_ONLY.fullmatch(value):
        return "day"
    return "second" if _HAS_SECONDS.search(value) else "minute"


def parse_date_iso(value: object) -> datetime | None:
    """An ISO 8601 date or datetime string as an aware datetime (UTC when no zone is given)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # +0200 -> +02:00
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def page_metadata(html: str | bytes) -> PageMeta:
    """Read JSON-LD, OpenGraph, meta tags and the canonical link of one HTML document."""
    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return PageMeta()
    return tree_metadata(tree)


def tree_metadata(tree: Any) -> PageMeta:
    """`page_metadata` of an already parsed lxml tree (read only: the tree is not changed)."""
    metas = _meta_tags(tree)
    ld = _article_ld(tree)
    return _merge(tree, metas, ld)


def _merge(tree: Any, metas: dict[str, list[str]], ld: dict[str, Any]) -> PageMeta:
    people, agencies = _people(ld.get("author"), metas)
    published = _published(ld, metas)
    declared = ArticleFields(
        title=_text(ld.get("headline")) or _first(metas, "og:title", "twitter:title"),
        summary=_text(ld.get("description"))
        or _first(metas, "og:description", "description", "twitter:description"),
        authors=people,
        published_at=parse_date_iso(published),
        published_at_precision=iso_precision(published),
        section=_text(ld.get("articleSection")) or _first(metas, "article:section"),
        article_type=_article_type(ld),
        modified_at=parse_date_iso(ld.get("dateModified"))
        or _meta_date(metas, "article:modified_time", "og:updated_time", "dateModified"),
        site_name=_first(metas, "og:site_name") or _publisher_name(ld),
        image=_first(metas, "og:image", "og:image:url", "twitter:image") or _ld_image(ld),
        tags=_tags(ld, metas),
        language=_language(tree, metas),
    )
    return PageMeta(
        fields=declared,
        agencies=agencies,
        canonical=_canonical(tree) or _first(metas, "og:url"),
        article_body=_text(ld.get("articleBody")),
        not_free=_not_free(ld),
    )


def _meta_tags(tree: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for node in tree.iter("meta"):
        key = node.get("property") or node.get("name") or node.get("itemprop")
        value = node.get("content")
        if key and value and value.strip():
            out.setdefault(key.strip().lower(), []).append(" ".join(value.split()))
    return out


def _first(metas: dict[str, list[str]], *keys: str) -> str | None:
    for key in keys:
        if metas.get(key.lower()):
            return metas[key.lower()][0]
    return None


def _meta_date(metas: dict[str, list[str]], *keys: str) -> datetime | None:
    return parse_date_iso(_first(metas, *keys))


def _published(ld: dict[str, Any], metas: dict[str, list[str]]) -> str | None:
    """The declared publication time as written (JSON-LD first, then meta tags)."""
    declared = ld.get("datePublished")
    if parse_date_iso(declared) is not None:
        return str(declared)
    keys = ("article:published_time", "datePublished", "pubdate", "date")
    return next((v for k in keys if parse_date_iso(v := _first(metas, k))), None)


def _article_type(ld: dict[str, Any]) -> str | None:
    kind = ld.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    names = [_TYPE_NAMES.get(k.lower()) for k in kinds if isinstance(k, str)]
    return next((n for n in names if n and n != "article"), None)


def _article_ld(tree: Any) -> dict[str, Any]:
    """The first JSON-LD object typed as an article (in lists, @graph or mainEntity)."""
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "", strict=False)
        except ValueError:
            continue
        for node in _walk_ld(data):
            if _is_article(node):
                return node
    return {}


def _walk_ld(data: object, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk_ld(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
            if key in data:
                yield from _walk_ld(data[key], depth + 1)


def _is_article(node: dict[str, Any]) -> bool:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.lower() in _ARTICLE_TYPES for k in kinds)


def _text(value: object) -> str | None:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())
    return None


def _people(value: object, metas: dict[str, list[str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Authors and wire agencies named as authors; deduped, "By" stripped, URLs ignored."""
    names = list(_ld_names(value)) or metas.get("author", []) or metas.get("article:author", [])
    people: list[str] = []
    agencies: list[str] = []
    for raw in names:
        if raw.startswith(("http://", "https://")):
            continue
        agency = agency_name(raw)
        if agency:
            agencies.append(agency)
            continue
        people.extend(n for n in split_authors(raw) if n not in people)
    return tuple(people), tuple(dict.fromkeys(agencies))


def _ld_names(value: object) -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from _ld_names(item)
    elif isinstance(value, dict):
        name = _text(value.get("name"))
        if name:
            yield name
    elif isinstance(value, str) and value.strip():
        yield value.strip()


def _publisher_name(ld: dict[str, Any]) -> str | None:
    publisher = ld.get("publisher")
    if isinstance(publisher, list) and publisher:
        publisher = publisher[0]
    return _text(publisher.get("name")) if isinstance(publisher, dict) else None


def _ld_image(ld: dict[str, Any]) -> str | None:
    image = ld.get("image")
    if isinstance(image, list) and image:
        image = image[0]
    if isinstance(image, dict):
        image = image.get("url")
    return image if isinstance(image, str) and image.startswith("http") else None


def _tags(ld: dict[str, Any], metas: dict[str, list[str]]) -> tuple[str, ...]:
    raw: list[str] = list(metas.get("article:tag", []))
    keywords = ld.get("keywords")
    if isinstance(keywords, list):
        raw.extend(k for k in keywords if isinstance(k, str))
    elif isinstance(keywords, str):
        raw.append(keywords)
    if not raw:
        raw = metas.get("keywords", []) or metas.get("news_keywords", [])
    split = (t.strip() for item in raw for t in item.split(","))
    return tuple(dict.fromkeys(t for t in split if t and len(t) <= 80))


def _canonical(tree: Any) -> str | None:
    for node in tree.iter("link"):
        if "canonical" in (node.get("rel") or "").lower().split() and node.get("href"):
            return str(node.get("href")).strip()
    return None


def _language(tree: Any, metas: dict[str, list[str]]) -> str | None:
    lang = tree.get("lang") or _first(metas, "og:locale", "content-language", "language")
    if not lang:
        return None
    code = re.split(r"[-_]", lang.strip().lower())[0]
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None


def _not_free(ld: dict[str, Any]) -> bool:
    """The article, or a part of it (`hasPart`, Google's paywalled-content markup), is not free.

    schema.org Booleans arrive as `false`, "False", "false" or "https://schema.org/False".
    """
    parts = ld.get("hasPart")
    nodes = [ld, *(parts if isinstance(parts, list) else [parts])]
    return any(isinstance(n, dict) and _is_false(n.get("isAccessibleForFree")) for n in nodes)


def _is_false(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower().rsplit("/", 1)[-1] == "false"
    return value is False


def wall_marker(tree: Any) -> Access | None:
    """`paywalled` or `registration` when a typical wall container (a block whose class names
    one) is in the tree, else None.

    It walks every block of the page, so callers ask only when the text looks like a teaser.
    """
    for node in tree.iter("div", "section", "article"):
        classes = node.get("class") or ""
        if node.get("id") == "main":
            continue
        if _REGWALL_CLASSES.search(classes):
            return "registration"
        if _PAYWALL_CLASSES.search(classes):
            return "paywalled"
    return None
