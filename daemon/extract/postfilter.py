"""Pure: choose and clean the body text of an HTML page after trafilatura.

trafilatura with `favor_precision` is the base.  Two things improve it, measured on the dev
third of the corpora (bench/extract_quality.py):

- the page's own JSON-LD `articleBody`, when it is consistent with the visible text, arbitrates
  between the precise and the default (recall) extraction and removes lines it does not contain;
- lines trafilatura keeps that are page chrome by their own content (share prompts, "read
  more" promos, newsletter and comment prompts, copyright) are dropped with the same line rules
  as plain-text captures;
- the headline repeated at the top (also with a kicker glued on or typographic variants) and
  credit lines, source marks and newsletter prompts at the end are dropped;
- articleBody omits the lead and the subheadings: those are kept when articleBody filters.
"""

from __future__ import annotations

import re
from collections import Counter

from daemon.extract.credits import BYLINE_RE
from daemon.extract.textclean import is_chrome_line

_TOKEN = re.compile(r"\w+")
_LIST_ITEM = re.compile(r"^(?:\d{1,2}[.)]|[•·▪●*–-])\s+")
# A precise extraction shorter than this share of the recall one probably lost the article.
RECALL_RATIO = 0.25
# ... and shorter than this many characters.
SHORT_CHARS = 500
# Share of a text's shingles found in articleBody for the two to be "consistent".
CONSISTENT = 0.6
# Share of a line's words in the title, and of the title's words in the line, for the line
# to be the headline (with a kicker glued on, or typographic variants).
TITLE_OVERLAP = 0.8
# Lines at the end of a body looked at for credit lines and newsletter prompts.
TAIL_LINES = 4


def shingle_set(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Word n-gram multiset of `text` (lower-cased `\\w+` tokens)."""
    tokens = _TOKEN.findall(text.lower())
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def contained(part: str, whole: Counter[tuple[str, ...]]) -> float:
    """Share of `part`'s shingles that occur in `whole` (1.0 for an empty part)."""
    shingles = shingle_set(part)
    total = sum(shingles.values())
    return sum((shingles & whole).values()) / total if total else 1.0


def needs_recall(precise: str, article_body: str | None) -> bool:
    """Whether a second, recall-oriented extraction is worth its cost for this page."""
    if article_body and len(article_body) > 1.3 * len(precise):
        return True
    return len(precise) < SHORT_CHARS


def choose_body(
    precise: str,
    recall: str | None,
    article_body: str | None,
    *,
    title: str | None = None,
    description: str | None = None,
) -> str:
    """The best body among the precise and recall extractions, cleaned of chrome lines."""
    body = _pick(precise, recall, article_body)
    if article_body and len(article_body) >= 200:
        body = _within(body, shingle_set(article_body), description)
    lines = [line for line in body.split("\n") if line.strip() and not _is_chrome(line)]
    return "\n".join(_without_tail(_without_headline(lines, title)))


# "Read also" promos in the languages of the corpora's publishers, with or without a colon;
# the English and a few others are also in textclean's rules, which need the colon.
_READ_ALSO = re.compile(
    r"^(?:(?:à )?lire aussi|les også|läs också|læs også|lue myös|lees ook|leggi anche"
    r"|lesen sie (?:auch|mehr)|lea también|leia também|czytaj (?:też|także|również)"
    r"|читайте также|read (?:also|more)|also read|see also|zum artikel)\b",
    re.I,
)
# Photo credit lines: "Photo: AFP", "Фото: Дмитрий Азаров, Коммерсантъ", "Fotos: X".
_PHOTO_CREDIT = re.compile(
    r"^(?:photos?|fotos?|фото|bild(?:er)?|images?|credit|crédit|photograph)\s*(?::|©|/)", re.I
)
# A date stamp on a line of its own: "Stand: 22.04.2024, 06:00".
_DATE_STAMP = re.compile(
    r"^(?i:stand|aktualisiert|updated|published|veröffentlicht|publié|mis à jour)\b[:\s].{0,40}\d"
)
# Lines at most this long (in words) can be a promo or a credit line.
CREDIT_WORDS = 25


def _is_chrome(line: str) -> bool:
    """A chrome line by its own content: textclean's rules, "read also" promos, photo credits."""
    if is_chrome_line(line):
        return True
    stripped = line.strip().lstrip("-–•>» ")
    if len(stripped.split()) > CREDIT_WORDS:
        return False
    return bool(
        _READ_ALSO.match(stripped)
        or _PHOTO_CREDIT.match(stripped)
        or (len(stripped) <= 80 and _is_byline(stripped))
    )


def _is_byline(line: str) -> bool:
    """Only a byline or only a date stamp: "Von Nina Magoley", "Stand: 22.04.2024, 06:00"."""
    match = BYLINE_RE.match(line)
    return bool((match and not match["rest"]) or _DATE_STAMP.match(line))


_TAIL_PROMPT = re.compile(
    r"\b(?:newsletter|subscribe to|sign(?:ing)? up (?:for|to)|abonnieren|whatsapp-kanal"
    r"|originalartikel|more to follow|mehr themen auf)\b",
    re.I,
)
_TAIL_CREDIT = re.compile(
    r"^(?:quelle|source|sources|mit material von|with files from|(?:with|additional) reporting"
    r"|reporting by|editing by|contributing|mit dpa)\b|\bcontributed (?:reporting|to this report)",
    re.I,
)
_TAIL_MARK = re.compile(r"^[\W_]+$|^\(\w{1,12}(?:/\w{1,12})*\)$")  # "___", "(dmk)", "(dpa/AFP)"


def _without_tail(lines: list[str]) -> list[str]:
    """Drop the chrome after the article: credit and source lines, newsletter prompts."""
    end = len(lines)
    while end > 1 and len(lines) - end < TAIL_LINES and _tail_chrome(lines[end - 1]):
        end -= 1
    return lines[:end]


def _tail_chrome(line: str) -> bool:
    words = len(line.split())
    return bool(
        _TAIL_MARK.match(line.strip())
        or (words <= 25 and _TAIL_CREDIT.search(line))
        or (words <= 40 and _TAIL_PROMPT.search(line))
    )


def _without_headline(lines: list[str], title: str | None) -> list[str]:
    """Drop the headline repeated in the body, and the section kicker just above it."""
    key = " ".join((title or "").split()).casefold()
    if not key:
        return lines
    for i, line in enumerate(lines[:4]):
        if " ".join(line.split()).casefold() == key or _like_title(line, key):
            above = lines[:i]
            if all(len(x.split()) <= 3 for x in above):
                return lines[i + 1 :]
            return above + lines[i + 1 :]
    return lines


def _like_title(line: str, key: str) -> bool:
    """The headline with a kicker glued on, or the title with the site name appended."""
    words = _TOKEN.findall(line.casefold())
    if not 3 <= len(words) <= 30 or line.rstrip().endswith("."):
        return False
    title = set(_TOKEN.findall(key))
    inside = sum(1 for w in words if w in title) / len(words)
    covered = len(title & set(words)) / len(title) if title else 0.0
    return inside >= TITLE_OVERLAP and covered >= TITLE_OVERLAP


def _pick(precise: str, recall: str | None, article_body: str | None) -> str:
    if not recall or recall == precise:
        return precise
    if article_body and len(article_body) >= 200:
        reference = shingle_set(article_body)
        if contained(recall, reference) >= contained(precise, reference) - 0.05:
            return (
                recall
                if _coverage(recall, article_body) > _coverage(precise, article_body)
                else precise
            )
        return precise
    # Without a reference, only an almost empty precise result is overruled.
    lost = len(precise) < SHORT_CHARS and len(precise) < RECALL_RATIO * len(recall)
    return recall if lost else precise


def _coverage(text: str, article_body: str) -> float:
    return contained(article_body, shingle_set(text))


def _within(body: str, reference: Counter[tuple[str, ...]], description: str | None) -> str:
    """Lines of `body` that articleBody contains, when the two agree overall.

    articleBody leaves out the lead (the standfirst) and the subheadings: a line matching the
    page's description is kept, and so is a heading-like line followed by a kept line.
    """
    if contained(body, reference) < CONSISTENT:
        return body
    lines = body.split("\n")
    inside = [contained(line, reference) >= 0.5 for line in lines]
    lead = shingle_set(description) if description else None
    kept = [
        line
        for i, line in enumerate(lines)
        if inside[i] or (lead and _is_lead(line, lead)) or _is_subheading(lines, inside, i)
    ]
    return "\n".join(kept)


def _is_subheading(lines: list[str], inside: list[bool], i: int) -> bool:
    """A heading between two stretches of articleBody text."""
    between = 0 < i < len(lines) - 1 and inside[i + 1] and any(inside[:i])
    return between and _is_heading(lines[i])


def _is_lead(line: str, lead: Counter[tuple[str, ...]]) -> bool:
    return len(line.split()) >= 8 and contained(line, lead) >= 0.8


def _is_heading(line: str) -> bool:
    """A subheading: a few words, no sentence end, not a list item or a prompt."""
    words = len(line.split())
    return (
        2 <= words <= 14
        and not line.rstrip().endswith((".", ":", "…"))
        and not _LIST_ITEM.match(line)
        and not is_chrome_line(line)
    )
