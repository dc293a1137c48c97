"""Pure: an article's text → its `Profile`, the distinctive terms and names the story stage uses.

No I/O and no state.  Every step is deterministic across runs and machines:

    title + text ─tokenize→ words ─fold→ lower case, marks stripped (İ → i, é → e, Arabic harakat)
                 ─drop→ stop words of the article's language (stopwordsiso), short tokens
                 ─stem→ Snowball stemmer of the language (PyStemmer), when it has one
                 ─count→ term frequencies, title words counted `title_weight` times
                 ─keep→ the `MAX_TERMS` most frequent (ties: alphabetical)

The costly part, the lead's counted stems and names (`LeadTerms`), is computed by the extraction
worker and travels with the article; the stage adds the title's terms and ranks.

Names are the terms whose every occurrence in running text is capitalised (not sentence-initial)
in a cased script: "Kharkiv", "TASS", "Erdoğan".  Caseless scripts (Arabic) have none; their
articles are matched on terms alone.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a language first needs its stemmer
    import Stemmer

# Snowball algorithms by ISO 639-1 code (the ones PyStemmer ships).
_SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "et": "estonian", "eu": "basque",
    "fa": "persian", "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi",
    "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian",
    "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian", "pl": "polish",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish",
    "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip

_WORD = re.compile(r"\w+")
# The combining marks of the Basic Multilingual Plane (accents, Arabic harakat; the others
# belong to historic scripts and notation), deleted by one regex pass: a class of BMP
# characters is a bitmap to the regex engine, one with others a list of ranges, 5x slower.
_MARKS = re.compile(
    "[" + "".join(chr(c) for c in range(0x10000) if unicodedata.combining(chr(c))) + "]+"
)
_INITIAL = re.compile(r"(?:^|[.!?:;\"“”«»\n])[^\w.!?:;\n]*(\w+)")  # a sentence's first word
_VOWELS = str.maketrans("", "", "aeiouyhw")
_DOUBLED = re.compile(r"(.)\1+")
MIN_CHARS = 3  # shorter words are mostly particles, abbreviations and small numbers
MAX_TERMS = 80  # terms of a profile


@dataclass(frozen=True, slots=True)
class Profile:
    """What the story stage keeps about one article: its distinctive terms and names."""

    terms: tuple[str, ...]  # distinct folded (stemmed) terms, most frequent first
    weights: tuple[float, ...]  # 1 + log(tf) of each term, title counted `title_weight` times
    names: tuple[str, ...]  # name keys (`name_key`) of the names among the terms
    language: str | None


def fold(text: str) -> str:
    """Lower case without combining marks: "İzyum" → "izyum", "Défense" → "defense"."""
    return _unmarked(text.casefold())


@functools.cache
def stop_words(language: str | None) -> frozenset[str]:
    """The folded stop words of `language` (empty when stopwordsiso has no list).

    Read from stopwordsiso's data file one language at a time, without importing the package:
    its import parses the lists of every language, 5 MB in each extraction worker."""
    spec = importlib.util.find_spec("stopwordsiso")
    if not language or spec is None or spec.origin is None:
        return frozenset()
    data = Path(spec.origin).with_name("stopwords-iso.json").read_bytes()
    start = data.find(b'"%s":[' % language.lower().encode())
    if start < 0:
        return frozenset()
    start = data.index(b"[", start)
    words: list[str] = json.loads(data[start : data.index(b"]", start) + 1])
    return frozenset(fold(w) for w in words)


@functools.cache
def _stemmer(language: str | None) -> Stemmer.Stemmer | None:
    algorithm = _SNOWBALL.get(language or "")
    if algorithm is None:
        return None
    import Stemmer  # here: a worker without a stemmed language never loads it

    return Stemmer.Stemmer(algorithm)


@dataclass(frozen=True, slots=True)
class LeadTerms:
    """The costly part of a `Profile`: the stems of a text's lead, counted, and those written as
    names.  A pure function of (text, language), so the extraction worker computes it."""

    language: str | None
    terms: tuple[str, ...]  # the `MAX_TERMS` most frequent, most frequent first (ties: a-z)
    counts: tuple[int, ...]
    names: tuple[str, ...]  # the terms written capitalised (see `_capitalised`)


def lead_terms(text: str, language: str | None, *, lead_chars: int = 3000) -> LeadTerms:
    """The counted stems of the lead (the first `lead_chars` characters of the text's non-blank
    lines, stripped): news puts the who, what and where first, and reading only the lead keeps
    the cost per article flat.  Blank lines and indentation do not count, so a text and its
    re-paragraphed copy have the same lead.

    One regex pass finds the words; each distinct word as written is looked up once in the
    language's word → stem table (`_stems_of`), and its count goes to its stem."""
    lead = _unmarked(_lead(text, lead_chars).replace("İ", "I"))
    written = Counter(_WORD.findall(lead))  # distinct words as written, with their counts
    stem_of = _stems_of(language, written)
    counts: dict[str, int] = {}
    for word, count in written.items():
        if stem := stem_of[word]:
            counts[stem] = counts.get(stem, 0) + count
    ranked = _ranked(counts, MAX_TERMS)
    return LeadTerms(
        language,
        tuple(term for term, _ in ranked),
        tuple(count for _, count in ranked),
        tuple(sorted({stem_of[w] for w in _capitalised(lead, written)} - {""})),
    )


_STEM_TABLE_SIZE = 20_000  # words as written per language (~2.5 MB), emptied when full


@functools.cache
def _stem_table(language: str | None) -> dict[str, str]:
    return {}


def _stems_of(language: str | None, words: Collection[str]) -> dict[str, str]:
    """The language's table of words as written → stem ("" for a stop word or a short one),
    holding at least `words`: news repeats its words, so most are stemmed once per worker."""
    table = _stem_table(language)
    missing = [w for w in words if w not in table]
    if missing:
        if len(table) + len(missing) > _STEM_TABLE_SIZE:
            table.clear()
            missing = list(words)
        lows = [w.casefold() for w in missing]
        stops = stop_words(language)
        kept = [low for low in lows if len(low) >= MIN_CHARS and low not in stops]
        stemmer = _stemmer(language)
        stems = iter(kept if stemmer is None else stemmer.stemWords(kept))
        for word, low in zip(missing, lows, strict=True):
            table[word] = next(stems) if len(low) >= MIN_CHARS and low not in stops else ""
    return table


def _ranked(counts: dict[str, int], size: int) -> list[tuple[str, int]]:
    """The `size` most frequent terms (ties: alphabetical)."""
    ranked = sorted((-count, term) for term, count in counts.items())[:size]
    return [(term, -negative) for negative, term in ranked]


def profile(
    title: str | None,
    text: str,
    language: str | None,
    *,
    lead: LeadTerms | None = None,
    title_weight: int = 3,
) -> Profile:
    """The `MAX_TERMS` most frequent terms of the title and the lead of the text, with weights
    and names; `lead` is `lead_terms(text, language)` when already computed (one computed for
    another language is not used).  The lead keeps only its `MAX_TERMS` best, so a title term
    beyond them counts its title weight alone."""
    if lead is None or lead.language != language:
        lead = lead_terms(text, language)
    titled = _stems(_WORD.findall(fold(title or "")), stop_words(language), _stemmer(language))
    if titled:
        counts = dict(zip(lead.terms, lead.counts, strict=True))
        for term in titled:
            counts[term] = counts.get(term, 0) + title_weight  # Title Cased: no evidence of names
        ranked = _ranked(counts, MAX_TERMS)
        terms, tfs = tuple(t for t, _ in ranked), tuple(c for _, c in ranked)
    else:  # the lead is ranked already
        terms, tfs = lead.terms, lead.counts
    return Profile(
        terms=terms,
        weights=tuple(map(tf_weight, tfs)),
        names=tuple(sorted({name_key(t) for t in set(lead.names).intersection(terms)})),
        language=language,
    )


def _lead(text: str, chars: int) -> str:
    """The first `chars` characters of the non-blank lines of `text`, stripped, one a line."""
    lines: list[str] = []
    size = 0
    for line in text.splitlines():
        if size >= chars:
            break
        if stripped := line.strip():
            lines.append(stripped)
            size += len(stripped) + 1
    return "\n".join(lines)[:chars]


@functools.cache
def tf_weight(count: int) -> float:
    """1 + log(count), one shared float object per count (profiles hold many of them)."""
    return 1.0 + math.log(count)


@functools.lru_cache(maxsize=1 << 16)
def name_key(term: str) -> str:
    """A key that survives transliteration: the first letter, then the consonants without h, w
    and y, doubled ones collapsed.  Izum, Izyum, Izium → izm; Kharkiv, Kharkov → krkv;
    Balaklya, Balakleya → blkl.  Terms of other scripts are their own key."""
    if not term.isascii():
        return term
    skeleton = term[0] + term[1:].translate(_VOWELS)
    return _DOUBLED.sub(r"\1", skeleton)


def _unmarked(text: str) -> str:
    """`text` in NFKD without combining marks, case kept; ASCII is left as it is."""
    if text.isascii():
        return text
    return _MARKS.sub("", unicodedata.normalize("NFKD", text))


def _stems(words: list[str], stops: frozenset[str], stemmer: Stemmer.Stemmer | None) -> list[str]:
    """The folded words worth keeping (no stop words, no short tokens), stemmed."""
    kept = [w for w in words if len(w) >= MIN_CHARS and w not in stops]
    return kept if stemmer is None else stemmer.stemWords(kept)


def _capitalised(text: str, written: Counter[str]) -> list[str]:
    """Distinct words written capitalised more often than at a sentence start, and never in
    lower case: the names of a cased script ("Kharkiv", "TASS"); none in a caseless one.
    `written` counts the words of `text`."""
    capitals = [w for w in written if w[0].isupper() and w.lower() not in written]
    if not capitals:  # a caseless script: no sentence starts to look for
        return capitals
    initial = Counter(_INITIAL.findall(text))
    return [word for word in capitals if written[word] > initial[word]]
