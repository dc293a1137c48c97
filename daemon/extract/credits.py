"""Pure: wire agencies, bylines and free-text dates, shared by the text cleaner and the extractor.

Dates written without a time zone are read as UTC: a capture rarely states its zone, UTC is
the only choice that does not depend on the machine, and an error of a few hours does not move
a story out of its news cycle.  A zone abbreviation next to the time (`ET`, `GMT`, `MSK`, ...)
wins over that assumption.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

# Wire agencies, by the canonical name newsd reports; keys are lower-cased spellings.
_AGENCIES: dict[str, str] = {
    "associated press": "AP",
    "the associated press": "AP",
    "ap": "AP",
    "reuters": "Reuters",
    "thomson reuters": "Reuters",
    "afp": "AFP",
    "agence france-presse": "AFP",
    "agence france presse": "AFP",
    "efe": "EFE",
    "agencia efe": "EFE",
    "dpa": "dpa",
    "deutsche presse-agentur": "dpa",
    "ansa": "ANSA",
    "tass": "TASS",
    "ria novosti": "RIA Novosti",
    "interfax": "Interfax",
    "xinhua": "Xinhua",
    "pti": "PTI",
    "ani": "ANI",
    "ians": "IANS",
    "upi": "UPI",
    "united press international": "UPI",
    "kyodo": "Kyodo",
    "kyodo news": "Kyodo",
    "yonhap": "Yonhap",
    "europa press": "Europa Press",
    "the canadian press": "The Canadian Press",
    "canadian press": "The Canadian Press",
    "aap": "AAP",
    "australian associated press": "AAP",
    "pa media": "PA Media",
    "press association": "PA Media",
    "apa": "APA",
    "sda": "SDA",
    "keystone-sda": "SDA",
    "anp": "ANP",
    "belga": "Belga",
    "ctk": "ČTK",
    "pap": "PAP",
    "bloomberg": "Bloomberg",
}
_AGENCY_ALT = "|".join(sorted((re.escape(k) for k in _AGENCIES), key=len, reverse=True))
# "..., reports the Associated Press (AP)." / "..., writes the AP." at the end of a paragraph:
# the agency as the author of the reporting, not a source quoted in it.
_CREDIT_VERB_RE = re.compile(
    rf"\b(?:reports|writes|reported|wrote|informs|informed)\s+(?:the\s+)?"
    rf"(?:news\s+agency\s+)?({_AGENCY_ALT})\b(?:\s*\([A-Za-z]+\))?\s*[.!]?[\"”]?\s*$",
    re.IGNORECASE,
)
# "Headline in another language, EFE" / "(Reuters)" / "— AFP": a bare agency credit.
_CREDIT_TAIL_RE = re.compile(rf"(?:^|[,;–—-]\s*|\(\s*)({_AGENCY_ALT})\s*\)?\s*\.?$", re.IGNORECASE)

_ZONES: dict[str, str] = {
    "ET": "America/New_York",
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "CT": "America/Chicago",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "MT": "America/Denver",
    "PT": "America/Los_Angeles",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "GMT": "UTC",
    "UTC": "UTC",
    "BST": "Europe/London",
    "CET": "Europe/Paris",
    "CEST": "Europe/Paris",
    "MSK": "Europe/Moscow",
    "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo",
    "AEST": "Australia/Sydney",
}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_TIME = r"(?:[T\s,]+(\d{1,2}):(\d{2})(?::\d{2})?\s*([AaPp]\.?[Mm]\.?)?)?"
_ZONE = r"(?:\s*\b([A-Z]{2,4})\b)?"
_ISO_RE = re.compile(rf"\b(\d{{4}})-(\d{{2}})-(\d{{2}}){_TIME}{_ZONE}")
_DMY_RE = re.compile(rf"\b(\d{{1,2}})\s+([A-Za-z]{{3,9}})\.?,?\s+(\d{{4}}){_TIME}{_ZONE}")
_MDY_RE = re.compile(rf"\b([A-Za-z]{{3,9}})\.?\s+(\d{{1,2}}),?\s+(\d{{4}}){_TIME}{_ZONE}")
_SLASH_RE = re.compile(rf"\b(\d{{1,2}})/(\d{{1,2}})/(\d{{2}}|\d{{4}}){_TIME}{_ZONE}")


def agency_name(text: str) -> str | None:
    """The canonical name of the wire agency `text` is (exactly), or None."""
    return _AGENCIES.get(" ".join(text.lower().replace(".", "").split()))


def credit_in_prose(paragraph: str) -> str | None:
    """The agency a paragraph credits as its author ("..., reports the AP."), or None.

    An agency that is merely quoted ("TASS reported that ...", "according to Reuters") is a
    source of the story, not its syndicator, and is not returned.
    """
    match = _CREDIT_VERB_RE.search(paragraph)
    return agency_name(match.group(1)) if match else None


def credit_line(line: str) -> str | None:
    """The agency of a short credit line ("Pentágono confirma ..., EFE", "(Reuters)"), or None."""
    if len(line) > 200 or line.rstrip().endswith(("?", "!")):
        return None
    match = _CREDIT_TAIL_RE.search(line.strip())
    return agency_name(match.group(1)) if match else None


# The word a byline opens with, in the languages of our feeds: "By", "Von", "Par", "Door", ...
_OPENER = r"(?i:by|von|por|par|av|door|di|af)"
# One name word ("Nina", "J.", "O'Neil", "HERB"); names are joined by a space, "and", or a
# lower-case particle ("Ludwig van Beethoven").
_NAME = r"[A-ZÄÖÜÉ][\w'’-]*\.?"
_JOIN = r"\s+(?:(?:(?i:und|and|y|et)|van|von|de|der|den|da|del|di|du|la|le|ten|ter)\s+)?"
BYLINE_RE = re.compile(
    rf"^{_OPENER}\s+(?P<names>{_NAME}(?:{_JOIN}{_NAME}){{0,4}})"
    r"(?:\s*[-|–—·,]\s*(?P<rest>.*?))?\s*$"
)
"""A byline line: the opener, one to five capitalised name words, then optionally a separator
and the rest (an agency, a date): "By Maria Lopez and Tom Berg, Reuters"; not "By then it was"."""


def split_authors(names: str) -> list[str]:
    """Split "A, B and C" into names; strips "By", trailing roles and agency names."""
    cleaned = re.sub(rf"^\s*{_OPENER}\s+", "", names.strip())
    parts = re.split(r"\s*(?:,|;|&|\band\b|\bund\b|\by\b|\bet\b|\|)\s*", cleaned)
    out: list[str] = []
    for part in parts:
        name = part.strip(" .·-–—")
        if name and agency_name(name) is None and 1 <= len(name.split()) <= 5:
            out.append(name)
    return out


def parse_date(text: str, *, default_zone: tzinfo = UTC) -> datetime | None:
    """The most specific date in `text`, timezone-aware (naive times read as `default_zone`)."""
    found = [d for d in (_from_match(rx, text, default_zone) for rx in _RULES) if d is not None]
    if not found:
        return None
    return max(found, key=lambda pair: pair[1])[0]


def _from_match(
    rule: tuple[re.Pattern[str], str], text: str, zone: tzinfo
) -> tuple[datetime, int] | None:
    regex, order = rule
    match = regex.search(text)
    if match is None:
        return None
    groups = match.groups()
    ymd = _ymd(groups[:3], order)
    if ymd is None:
        return None
    hour, minute = _clock(groups[3], groups[4], groups[5])
    tz = ZoneInfo(_ZONES[groups[6]]) if groups[6] in _ZONES else zone
    try:
        value = datetime(*ymd, hour, minute, tzinfo=tz)
    except ValueError:
        return None
    return value, 2 if groups[3] is not None else 1


def _ymd(parts: tuple[str | None, ...], order: str) -> tuple[int, int, int] | None:
    a, b, c = (p or "" for p in parts)
    if order == "ymd":
        return int(a), int(b), int(c)
    if order == "dmy":
        month = _MONTHS.get(b[:3].lower())
        return (int(c), month, int(a)) if month else None
    if order == "mdy":
        month = _MONTHS.get(a[:3].lower())
        return (int(c), month, int(b)) if month else None
    year = int(c) + 2000 if len(c) == 2 else int(c)  # US numeric dates: MM/DD/YY
    return year, int(a), int(b)


def _clock(hour: str | None, minute: str | None, ampm: str | None) -> tuple[int, int]:
    if hour is None or minute is None:
        return 0, 0
    h = int(hour) % 24
    if ampm and ampm[0].lower() == "p" and h < 12:
        h += 12
    if ampm and ampm[0].lower() == "a" and h == 12:
        h = 0
    return h, int(minute)


_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_ISO_RE, "ymd"),
    (_DMY_RE, "dmy"),
    (_MDY_RE, "mdy"),
    (_SLASH_RE, "us"),
)
