"""Pure: a clean site name, a headline without the site's name, and the section in a URL.

Publishers put more than their name where a name belongs: copyright lines (`Copyright 2007 TV3`,
`© MMVIII, CBS Television Stations Inc.`), taglines (`Aktuálně.cz - Víte, co se právě děje`),
and they end headlines with it (`Floods in Prague | Aktuálně.cz`).  One mechanism serves every
site: split on the separators publishers use, and recognise the name as the part that equals
the declared site name or the page's registrable domain (accents, case and punctuation aside).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from daemon.fetch.hosts import domain_of

_SEPARATOR = re.compile(r"\s+[|\-–—:·•»~]\s+")
_COPYRIGHT = re.compile(r"©|\(c\)|\bcopyright\b|\ball rights reserved\b\.?", re.I)
_YEARS = re.compile(r"\b(?:1[89]|20)\d\d(?:\s*[-–]\s*(?:1[89]|20)\d\d)?\b")
_ROMAN = re.compile(r"\bM{1,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})\b")
_NAME_WORDS = 8  # longer than this is a sentence (a tagline), not a name
_NAME_CHARS = 60
_SECTION = re.compile(r"[a-z][a-z-]{2,30}")
# Path words that are templates, not sections.
_NOT_SECTIONS = frozenset(
    {"article", "articles", "story", "stories", "news", "amp", "content", "post", "posts",
     "item", "items", "detail", "details", "view", "read", "node", "page", "pages", "index",
     "doc", "docs", "html", "www", "home", "archive", "archives", "blog", "blogs"}
)  # fmt: skip


def clean_site_name(raw: str | None, url: str) -> str | None:
    """The site's name from a declared one: copyright words and taglines removed; None when
    what is left does not look like a name."""
    if not raw or not raw.strip():
        return None
    text = raw
    if _COPYRIGHT.search(text):
        text = _ROMAN.sub(" ", _YEARS.sub(" ", _COPYRIGHT.sub(" ", text)))
    parts = [p.strip(" ,;.-") for p in _SEPARATOR.split(text)]
    parts = [" ".join(p.split()) for p in parts if p.strip(" ,;.-")]
    if not parts:
        return None
    name = next((p for p in parts if _names_site(p, None, url)), parts[0])
    if len(name) > _NAME_CHARS or len(name.split()) > _NAME_WORDS:
        return None
    return name


def strip_site_suffix(title: str | None, site_name: str | None, url: str) -> str | None:
    """The headline without a leading or trailing part that names the site."""
    if not title:
        return title
    parts = _SEPARATOR.split(title)
    if len(parts) < 2:
        return title
    pieces = re.split(f"({_SEPARATOR.pattern})", title)  # keeps the separators, for re-joining
    if _names_site(parts[-1], site_name, url):
        pieces = pieces[:-2]
    elif _names_site(parts[0], site_name, url):
        pieces = pieces[2:]
    return "".join(pieces).strip() or title


def url_section(url: str) -> str | None:
    """The first path word that names a section (`/world/2024/05/storm` → `world`); None for
    template words, dates and the article's own slug."""
    segments = [s for s in urlsplit(url).path.lower().split("/") if s]
    for segment in segments[:-1]:
        if segment in _NOT_SECTIONS:
            continue
        return segment if _SECTION.fullmatch(segment) else None
    return None


def _names_site(part: str, site_name: str | None, url: str) -> bool:
    key = _key(part)
    if len(key) < 2:
        return False
    domain = domain_of(url)
    known = {_key(site_name or ""), _key(domain), _key(domain.split(".")[0])}
    return key in known - {""}


def _key(text: str) -> str:
    """Letters and digits only, accents folded, lower case: `Aktuálně.cz` → `aktualnecz`."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in folded if c.isalnum() and not unicodedata.combining(c))
