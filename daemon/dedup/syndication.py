"""Pure: which wire agency, if any, a text is credited to.

Only positions where a credit is written count: a byline or feed author ("Reuters",
"Jane Doe, Associated Press"), a dateline at the start of the body ("MADRID (EFE) —",
"BEIJING, Sept. 10 (Xinhua) --", "MOSCOW, September 10. /TASS/."), or a short credit line at
the end ("© 2024 The Associated Press. All rights reserved.", "(Reporting by ...; Editing by
...)", "Source: Xinhua").  A mention in running text ("Reuters reported", "told AFP") is not a
credit, and a photo credit ("AP Photo/Evan Vucci", "AFP via Getty Images") is not text
syndication: both are ignored on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Canonical name → alias pattern.  Acronyms are case-sensitive (so "ani" or "ap" in prose never
# match); long names are not.
AGENCIES: dict[str, str] = {
    "AP": r"AP|(?i:(?:the\s+)?associated\s+press)",
    "Reuters": r"(?i:(?:thomson\s+)?reuters)",
    "AFP": r"AFP|(?i:agence\s+france[\s-]presse)",
    "EFE": r"EFE|(?i:agencia\s+efe)",
    "dpa": r"dpa|DPA|(?i:deutsche\s+presse[\s-]agentur)",
    "TASS": r"(?:ITAR-)?TASS|Tass",
    "ANSA": r"ANSA",
    "Europa Press": r"(?i:europa\s+press)",
    "Xinhua": r"(?i:xinhua(?:\s+news\s+agency)?)",
    "PA Media": r"PA|(?i:pa\s+media|press\s+association)",
    "UPI": r"UPI|(?i:united\s+press\s+international)",
    "Kyodo": r"(?i:kyodo(?:\s+news)?)",
    "Yonhap": r"(?i:yonhap(?:\s+news\s+agency)?)",
    "ANI": r"ANI",
    "PTI": r"PTI|(?i:press\s+trust\s+of\s+india)",
    "IANS": r"IANS",
    "AAP": r"AAP|(?i:australian\s+associated\s+press)",
    "Canadian Press": r"CP|(?i:the\s+canadian\s+press)",
    "Anadolu": r"(?i:anadolu(?:\s+agency)?)",
    "Interfax": r"(?i:interfax)",
}
_NAMES = list(AGENCIES)
# Literals of which every alias above contains at least one: acronyms as written; for names,
# all the words of one of these groups, in lower case.  A line without them cannot hold a credit,
# so the costly patterns are skipped (a property test checks the hints against the patterns;
# keep both in step).
_HINTS_CASED = ("AP", "AFP", "EFE", "dpa", "DPA", "TASS", "Tass", "ANSA", "PA", "UPI", "ANI", "PTI",
                "IANS", "CP")  # fmt: skip
_HINTS_LOWER = (("associated", "press"), ("reuters",), ("agence", "france", "presse"),
                ("agencia", "efe"), ("deutsche", "presse", "agentur"), ("europa", "press"),
                ("xinhua",), ("pa", "media"), ("press", "association"),
                ("united", "press", "international"), ("kyodo",), ("yonhap",),
                ("press", "trust", "india"), ("canadian", "press"), ("anadolu",),
                ("interfax",))  # fmt: skip
# Likewise for the photo pattern: each of its branches needs "/" or one of these words.
_HINTS_PHOTO = ("photo", "foto", "image", "video", "picture", "via")
# The only non-ASCII letters that `re` matches case-insensitively to ASCII ones (İ ı K ſ): folded
# before lower(), so a lower-case hint is found wherever an `(?i:...)` alias could match.
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u212a": "k", "\u017f": "s"})
_ANY = "|".join(f"(?:{pattern})" for pattern in AGENCIES.values())


def _alias(tag: str) -> str:
    # Named groups `<tag>_<index>` say which agency matched; tags keep names unique per pattern.
    return "|".join(f"(?P<{tag}_{i}>{pattern})" for i, pattern in enumerate(AGENCIES.values()))


# Photo and video credits: removed before looking for text credits.
_PHOTO = re.compile(
    rf"\(?(?:{_ANY})\s*(?:Photo|Foto|Video|Images?)\b[^)\n]*\)?"
    rf"|(?i:(?:photo|foto|image|video|picture)s?\s*(?:credit)?\s*[:/]\s*)(?:{_ANY})[^\n]*"
    rf"|(?:{_ANY})\s*/\s*[A-Z][^\n)]*\)?"
    rf"|(?:{_ANY})\s+(?i:via)\s+(?i:getty)[^\n]*"
)
# A dateline: a short place/date prefix, then the agency in parentheses or slashes.
_DATELINE = re.compile(
    rf"^[^\n()]{{0,80}}?[(/]\s*(?:{_alias('d1')})\s*[)/]\s*(?:[-—–:.,]|\s+(?=[A-Z])|$)"
    rf"|^\s*\(\s*(?:{_alias('d2')})\s*\)\s*[-—–]"
)
_CREDIT_LINE = re.compile(
    rf"^[\s\W]*(?i:©|\(c\)|copyright|source|credit|by)?\s*[:\d]*\s*(?:{_alias('c1')})"
    rf"(?i:\s+(?:staff|news|news\s+agency|wire|reporters?))?"
    rf"\W*(?i:all\s+rights\s+reserved\.?)?\W*$"
    rf"|^.{{0,100}}[-—–/(]\s*(?:{_alias('c2')})\s*\)?\s*\.?$"
)
_REUTERS_CREDIT = re.compile(r"^\(?(?:Reporting|Additional reporting) by [^\n]{3,200}\)?$")
_BYLINE = re.compile(
    rf"^(?i:by\s+)?(?:{_alias('b1')})(?i:\s+(?:staff|news|wire|reporters?|writers?))?$"
    rf"|[,|/(]\s*(?:{_alias('b2')})\s*\)?$|(?i:\s(?:for|of)\s)(?:the\s+)?(?:{_alias('b3')})$"
)
_MAX_CREDIT_LINE = 160


def _folded(line: str) -> str:
    return line.lower() if line.isascii() else line.translate(_FOLD).lower()


def may_credit(line: str) -> bool:
    """False only if no agency alias can occur in `line` (a cheap test before the patterns)."""
    if any(hint in line for hint in _HINTS_CASED):
        return True
    folded = _folded(line)
    return any(all(word in folded for word in words) for words in _HINTS_LOWER)


def _without_photo_credits(line: str) -> str:
    folded = _folded(line)
    if "/" in line or any(hint in folded for hint in _HINTS_PHOTO):
        return _PHOTO.sub(" ", line).strip()
    return line.strip()


def _name(match: re.Match[str] | None) -> str | None:
    if match is None:
        return None
    for group, value in match.groupdict().items():
        if value is not None:
            return _NAMES[int(group.rsplit("_", 1)[1])]
    return None


def normalize_agency(name: str | None) -> str | None:
    """The canonical agency name for a credit such as "Associated Press" (None if unknown)."""
    if not name:
        return None
    return _name(_BYLINE.search(name.strip().rstrip(".")))


def from_authors(authors: Sequence[str]) -> str | None:
    """The agency credited in bylines or feed authors, if any."""
    for author in authors:
        found = normalize_agency(author)
        if found:
            return found
    return None


def from_text(text: str) -> str | None:
    """The agency credited by a dateline (start of the body) or a credit line (its end)."""
    # Only the head of the first two lines and short last lines can carry a credit; the patterns
    # are costly, so they run on those short pieces only, and only if an alias may occur.
    lines = text.splitlines()
    heads = [line[:_MAX_CREDIT_LINE] for line in _first_nonblank(lines, 2)]
    tails = [line for line in _first_nonblank(lines[::-1], 3) if len(line) <= _MAX_CREDIT_LINE]
    if not may_credit("\n".join(heads + tails)):  # hints hold no newline: same as line by line
        return next(("Reuters" for line in tails if _REUTERS_CREDIT.match(line)), None)
    for head in heads:
        if may_credit(head):
            found = _name(_DATELINE.search(_without_photo_credits(head)))
            if found:
                return found
    for line in tails:
        found = _credit_line(line)
        if found:
            return found
    return None


def _first_nonblank(lines: list[str], count: int) -> list[str]:
    # The first `count` non-blank lines, stripped (without stripping the whole text's lines).
    found: list[str] = []
    for line in lines:
        line = line.strip()
        if line:
            found.append(line)
            if len(found) == count:
                break
    return found


def _credit_line(line: str) -> str | None:
    if may_credit(line):
        line = _without_photo_credits(line)
        found = _name(_CREDIT_LINE.search(line))
        if found:
            return found
    return "Reuters" if _REUTERS_CREDIT.match(line) else None


def detect(text: str, authors: Sequence[str] = (), credited: str | None = None) -> str | None:
    """The wire agency of an article: an explicit credit first, then bylines, then the text."""
    return normalize_agency(credited) or credited or from_authors(authors) or from_text(text)
