"""Pure: clean a plain-text page capture (one visible line of the page per line).

A capture is a page flattened to text: navigation, consent banners, promos and lists come out
as lines between the article's own lines, and trafilatura keeps all of them because it needs
DOM cues.  This module classifies every line with general rules, not site strings:

- *shape*: word count, sentence punctuation at the end, position relative to the first and last
  prose paragraph (the article span), duplicates, and the density of short lines around it
  (a run of short lines is a link list);
- *chrome families*: skip links, breadcrumbs, icon strings, consent and copyright lines, promos,
  list headings, "see all" links, media timestamps, language switches, tag lines;
- *metadata*: bylines, datelines and credit lines become `authors`, `published_at` and
  `syndication` instead of text; photo captions and credits are dropped.

Everything before the headline and after the last prose paragraph is page chrome; inside the
span only chrome, metadata and captions are removed.  Times without a zone are read as UTC (see
`daemon.extract.credits`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from daemon.extract.credits import (
    BYLINE_RE,
    agency_name,
    credit_in_prose,
    credit_line,
    parse_date,
    split_authors,
)

Kind = Literal["body", "title", "dek", "chrome", "meta", "caption", "list_head"]

_END_PUNCT = (".", "!", "?", '"', "”", "’", "'", ")", "…", "»", "。", "؟")
_SKIP_RE = re.compile(r"^(?:skip to|jump to|zum inhalt|aller au contenu)\b", re.I)
_CONSENT_RE = re.compile(
    r"\b(?:cookies?|consent|privacy (?:policy|settings)|gdpr)\b.*"
    r"|^(?:accept|agree|reject|decline|manage)(?: all)?(?: cookies| settings)?$",
    re.I,
)
# Literals that _CONSENT_RE's first branch (its second matches lines of <= 3 words) and
# _COPYRIGHT_RE cannot match without, and the punctuation _PROMO_RE ends on: cheap pre-tests.
_CONSENT_HINTS = ("cookie", "consent", "privacy", "gdpr")
_COPYRIGHT_HINTS = ("©", "(c)", "copyright", "all rights reserved")
_PROMO_PUNCT = re.compile(r"[:»>|]")
_COPYRIGHT_RE = re.compile(r"^(?:©|\(c\)|copyright\b)|all rights reserved", re.I)
_PROMO_RE = re.compile(
    r"\b(?:read more|read also|also read|see also|related(?: articles?| stories| content)?"
    r"|recommended|watch|listen|more on this|must read|don'?t miss"
    r"|lesen sie (?:auch|mehr)|mehr zum thema|leggi anche|lees ook|lire aussi"
    r"|lea también|leia também)\s*[:»>|]",
    re.I,
)
_LIST_HEAD_RE = re.compile(
    r"^(?:top stories|most (?:popular|read|viewed|shared)|trending(?: now)?|latest(?: news)?"
    r"|just in|related(?: articles| stories| news)?|recommended(?: for you)?|you may also like"
    r"|more (?:\S+ ){0,3}(?:news|stories|from \S+)|editor'?s picks|popular|podcasts|video"
    r"|sponsored|advertisement|newsletter|follow us|share(?: this)?(?: article)?"
    r"|recommended videos|story continues below|auch interessant|mehr zum thema"
    r"|lesen sie auch|das könnte sie auch interessieren|leggi anche|lees ook|(?:à )?lire aussi)"
    r"\s*[:.]*$",
    re.I,
)
_NAV_RE = re.compile(
    r"^(?:(?:see|view|show) (?:all|more)|load more|more|next|previous|back to top|menu|search"
    r"|sign (?:in|up)|log ?in|subscribe|register|leave a (?:reply|comment)|comments?"
    r"|exit mobile version|print|email|share|tweet|whatsapp)\b",
    re.I,
)
_SHARE_RE = re.compile(
    r"^(?:also on \S+|like this (?:story|article)|share (?:this|on)|tell us what you think"
    r"|\d* ?comments?$|sign up (?:for|to)|subscribe (?:to|now)|click here|follow us)"
    r"|\[(?:insight|video|reaction|pics|poll)\]",
    re.I,
)
_TIMESTAMP_RE = re.compile(r"^(?:\d{1,2}:)?\d{1,2}:\d{2}$")
_TAGS_RE = re.compile(r"^(?:tags?|topics?|keywords|filed under|categories)\s*[:\s]", re.I)
_SITE_ICON_RE = re.compile(r"^site (?:icon|logo)\s+(.+)$", re.I)
_BREADCRUMB_RE = re.compile(r"^home(?=[A-Z])|^home\s*[›>»/|]|\s[›»]\s", re.I)
_LANG_SWITCH_RE = re.compile(
    r"^(?:leer en|read in|lire en|auf deutsch|en español|in english|em português)\b", re.I
)
_CAPTION_RE = re.compile(
    r"^(?:file(?: photo)?|photo|image|picture|pictured|caption)\s*[:–—-]"
    r"|\((?:[A-Z]{2,}\s+)?(?:photo|foto|image)s?\s*/[^)]*\)\s*$"
    r"|\b(?:photo|image|picture)\s*:\s*\S+.*$"
    r"|©\s*\S+[^.]*$|\bgetty images\b|\bshutterstock\b",
    re.I,
)
_DATELINE_RE = re.compile(
    r"^\s*(?:date|published|updated|posted|last updated)?[:\s]*"
    r"(?:\d{4}-\d{2}-\d{2}|\d{1,2}\s+[A-Za-z]{3,9}\.?,?\s+\d{4}|[A-Za-z]{3,9}\.?\s+\d{1,2},?\s+\d{4}"
    r"|\d{1,2}/\d{1,2}/\d{2,4})",
    re.I,
)
_LIST_ITEM_RE = re.compile(r"^(?:\d{1,2}[.)]|[•·▪●*-])\s+")


@dataclass(frozen=True, slots=True)
class CleanCapture:
    """What a capture says: its headline, body paragraphs and the metadata found in its lines."""

    title: str | None
    paragraphs: tuple[str, ...]
    summary: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    syndication: str | None = None
    site_name: str | None = None

    @property
    def text(self) -> str:
        """The body as one string, paragraphs separated by newlines."""
        return "\n".join(self.paragraphs)


@dataclass(slots=True)
class _Meta:
    authors: list[str]
    dates: list[datetime]
    syndication: str | None = None
    site_name: str | None = None


def clean_capture(text: str) -> CleanCapture:
    """Clean one capture: drop every chrome line, keep body paragraphs, lift the metadata out."""
    lines = [" ".join(raw.split()) for raw in text.splitlines()]
    lines = [line for line in lines if line]
    meta = _Meta(authors=[], dates=[])
    kinds = [_classify_line(line, meta) for line in lines]
    _mark_duplicates(lines, kinds)
    _mark_list_runs(lines, kinds)
    title_at = _find_title(lines, kinds)
    _mark_span(lines, kinds, title_at)
    return _assemble(lines, kinds, title_at, meta)


def is_prose(line: str) -> bool:
    """A sentence-like line: enough words and sentence punctuation at its end, or very long."""
    words = len(line.split())
    return (words >= 8 and line.rstrip().endswith(_END_PUNCT)) or words >= 30


def _classify_line(line: str, meta: _Meta) -> Kind:
    if _is_meta(line, meta):
        return "meta"
    if _is_chrome(line):
        return "chrome"
    if _LIST_HEAD_RE.match(line):
        return "list_head"
    if _CAPTION_RE.search(line) and not _ends_like_reporting(line):
        return "caption"
    return "body"


def _ends_like_reporting(line: str) -> bool:
    # A body sentence may mention a photo; a caption rarely ends with a quote attribution.
    return bool(re.search(r"\b(?:said|says|told)\b[^.]*\.$", line)) and "(" not in line[-40:]


def is_chrome_line(line: str) -> bool:
    """A line of page chrome by its own content (no context): consent, promo, nav, copyright..."""
    return _is_chrome(line, loose=False) or bool(_LIST_HEAD_RE.match(line))


def _is_chrome(line: str, *, loose: bool = True) -> bool:
    """`loose` adds the rules that need capture context (list items, truncated teasers)."""
    return chrome_rule(line, loose=loose) is not None


def chrome_rule(line: str, *, loose: bool = False) -> str | None:
    """The name of the first chrome rule `line` meets, or None for a line of content."""
    words = line.split()
    n = len(words)
    for name, rule in _ALL_RULES if loose else _RULES:
        if rule(line, n, words):
            return name
    return None


# A rule sees the line, its word count and its words.  Length tests come first inside each rule
# and cheap rules first in the tables: most lines are prose and fail every rule, so the cheap
# tests decide them before any regex runs (this runs on every extracted line).
ChromeRule = Callable[[str, int, list[str]], object]


def _truncated_teaser(line: str, n: int, words: list[str]) -> object:
    return n <= 10 and line.endswith(("...", "…"))


def _list_item(line: str, n: int, words: list[str]) -> object:
    return _LIST_ITEM_RE.match(line) and not is_prose(line)


def _skip_link(line: str, n: int, words: list[str]) -> object:
    return _SKIP_RE.match(line)


def _consent(line: str, n: int, words: list[str]) -> object:
    return n <= 30 and _maybe(line, _CONSENT_HINTS, n <= 3) and _CONSENT_RE.search(line)


def _copyright(line: str, n: int, words: list[str]) -> object:
    return n <= 25 and _maybe(line, _COPYRIGHT_HINTS, False) and _COPYRIGHT_RE.search(line)


def _promo(line: str, n: int, words: list[str]) -> object:
    return _PROMO_PUNCT.search(line) and _PROMO_RE.search(line)


def _navigation(line: str, n: int, words: list[str]) -> object:
    return n <= 6 and _NAV_RE.match(line)


def _timestamp(line: str, n: int, words: list[str]) -> object:
    return _TIMESTAMP_RE.match(line)


def _tags(line: str, n: int, words: list[str]) -> object:
    return _TAGS_RE.match(line) and not is_prose(line)


def _breadcrumb(line: str, n: int, words: list[str]) -> object:
    return n <= 8 and _BREADCRUMB_RE.search(line)


def _language_switch(line: str, n: int, words: list[str]) -> object:
    return n <= 5 and _LANG_SWITCH_RE.match(line)


def _icons(line: str, n: int, words: list[str]) -> object:
    return _is_icon_string(words)


def _script_soup(line: str, n: int, words: list[str]) -> object:
    return _is_script_soup(line)


def _share(line: str, n: int, words: list[str]) -> object:
    return n <= 12 and _SHARE_RE.search(line)


_LOOSE_RULES: tuple[tuple[str, ChromeRule], ...] = (
    ("truncated_teaser", _truncated_teaser),
    ("list_item", _list_item),
)
_RULES: tuple[tuple[str, ChromeRule], ...] = (
    ("skip_link", _skip_link),
    ("consent", _consent),
    ("copyright", _copyright),
    ("promo", _promo),
    ("navigation", _navigation),
    ("timestamp", _timestamp),
    ("tags", _tags),
    ("breadcrumb", _breadcrumb),
    ("language_switch", _language_switch),
    ("icons", _icons),
    ("script_soup", _script_soup),
    ("share", _share),
)
_ALL_RULES = _LOOSE_RULES + _RULES


def _maybe(line: str, hints: tuple[str, ...], short: bool) -> bool:
    """Whether a rule's regex can match at all: one of its literal words is in the line."""
    if short:
        return True
    low = line.lower()
    return any(hint in low for hint in hints)


def _is_icon_string(words: list[str]) -> bool:
    if len(words) < 3 or "icon" not in " ".join(words).lower():
        return False
    icons = sum(1 for w in words if "icon" in w.lower())
    return icons >= 3 and icons >= len(words) / 8


def _is_script_soup(line: str) -> bool:
    """A short token mixing scripts without spaces ("العربيةespрусdefr"): a language menu."""
    if " " in line or len(line) > 40:
        return False
    scripts = {_script(ch) for ch in line if ch.isalpha()}
    return len(scripts) >= 2


def _script(ch: str) -> str:
    code = ord(ch)
    if code < 0x250:
        return "latin"
    if 0x400 <= code < 0x530:
        return "cyrillic"
    if 0x590 <= code < 0x700:
        return "rtl"
    return "other"


def _is_meta(line: str, meta: _Meta) -> bool:
    site = _SITE_ICON_RE.match(line)
    if site:
        meta.site_name = meta.site_name or site.group(1).strip()
        return True
    if not is_prose(line) and _is_byline(line, meta):
        return True
    if len(line.split()) <= 6 and _DATELINE_RE.match(line):
        found = parse_date(line)
        if found is not None:
            meta.dates.append(found)
            return True
    agency = None if is_prose(line) else credit_line(line)
    if agency:
        meta.syndication = meta.syndication or agency
        return True
    return False


def _is_byline(line: str, meta: _Meta) -> bool:
    match = BYLINE_RE.match(line)
    if match is None:
        return False
    names = split_authors(match["names"])
    if not names:
        return False
    meta.authors.extend(n for n in names if n not in meta.authors)
    rest = match["rest"] or ""
    meta.syndication = meta.syndication or agency_name(rest) or credit_line(match["names"])
    found = parse_date(rest)
    if found is not None:
        meta.dates.append(found)
    return True


def _mark_duplicates(lines: list[str], kinds: list[Kind]) -> None:
    seen: set[str] = set()
    for i, line in enumerate(lines):
        key = line.casefold()
        if key in seen and kinds[i] != "meta":
            kinds[i] = "chrome"
        seen.add(key)


def _mark_list_runs(lines: list[str], kinds: list[Kind]) -> None:
    """Inside and after the body, a short line among four short lines of five is a link list.

    Lines before the first prose paragraph are left to the headline search.
    """
    short = [
        kinds[i] != "meta" and not is_prose(line) and len(line.split()) <= 12
        for i, line in enumerate(lines)
    ]
    first = _first_prose(lines, kinds)
    for i in range(first if first is not None else len(lines), len(lines)):
        window = short[max(0, i - 2) : i + 3]
        if short[i] and sum(window) >= 4 and kinds[i] == "body":
            kinds[i] = "chrome"


def _find_title(lines: list[str], kinds: list[Kind]) -> int | None:
    """The headline: the best-scoring candidate line before the first prose paragraph."""
    first = _first_prose(lines, kinds)
    limit = first if first is not None else len(lines)
    scored = [(_title_score(lines[i], i), i) for i in range(limit) if kinds[i] == "body"]
    scored = [pair for pair in scored if pair[0] > 0]
    if not scored:
        return None
    return max(scored, key=lambda pair: (pair[0], -pair[1]))[1]


def _title_score(line: str, index: int) -> float:
    words = len(line.split())
    if not 3 <= words <= 30 or line.endswith((".", ":", ",")) or not line[0].isupper():
        return 0.0
    shape = 1.0 if 5 <= words <= 20 else 0.5
    return shape + 1.0 / (1 + index)


def _first_prose(lines: list[str], kinds: list[Kind]) -> int | None:
    return next((i for i, line in enumerate(lines) if kinds[i] == "body" and is_prose(line)), None)


def _mark_span(lines: list[str], kinds: list[Kind], title_at: int | None) -> None:
    """Chrome outside the article span, list tails, and dek/captions between headline and body."""
    first = _first_prose(lines, kinds)
    if first is None:
        for i in range(len(kinds)):
            kinds[i] = "chrome" if kinds[i] == "body" and i != title_at else kinds[i]
        return
    last = _last_prose(lines, kinds, first)
    for i in range(len(kinds)):
        if kinds[i] != "body" or i == title_at:
            continue
        if i < first:
            kinds[i] = _before_body(lines[i], i, title_at)
        elif i > last:
            kinds[i] = "chrome"


def _last_prose(lines: list[str], kinds: list[Kind], first: int) -> int:
    """The last prose line before a list heading ends the article (related-stories tails)."""
    last = first
    for i in range(first, len(lines)):
        if kinds[i] == "list_head":
            break
        if kinds[i] == "body" and is_prose(lines[i]):
            last = i
    return last


def _before_body(line: str, index: int, title_at: int | None) -> Kind:
    if title_at is None or index < title_at:
        return "chrome"
    return "dek" if len(line.split()) >= 12 else "caption"


def _assemble(
    lines: list[str], kinds: list[Kind], title_at: int | None, meta: _Meta
) -> CleanCapture:
    title = lines[title_at] if title_at is not None else None
    body = tuple(
        line
        for i, line in enumerate(lines)
        if kinds[i] == "body" and i != title_at and line != title
    )
    dek = next((line for i, line in enumerate(lines) if kinds[i] == "dek"), None)
    syndication = meta.syndication or next(filter(None, map(credit_in_prose, body)), None)
    return CleanCapture(
        title=title,
        paragraphs=body,
        summary=dek,
        authors=tuple(meta.authors),
        published_at=_best_date(meta.dates),
        syndication=syndication,
        site_name=meta.site_name,
    )


def _best_date(dates: list[datetime]) -> datetime | None:
    """The first date that carries a time, else the first date; a capture's dateline comes first."""
    timed = [d for d in dates if (d.hour, d.minute) != (0, 0)]
    candidates = timed or dates
    return candidates[0] if candidates else None
