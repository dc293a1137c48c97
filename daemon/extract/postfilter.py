"""Pure: choose and clean the body text of an HTML page after trafilatura.

trafilatura with `favor_precision` is the base.  Two things improve it, measured on the dev
third of the corpora (bench/extract_quality.py):

- the page's own JSON-LD `articleBody`, when it is consistent with the visible text, arbitrates
  between the precise and the default (recall) extraction and removes lines it does not contain;
- lines trafilatura keeps that are page chrome by their own content (share prompts, "read
  more" promos, newsletter and comment prompts, copyright) are dropped with the same line rules
  as plain-text captures.
"""

from __future__ import annotations

import re
from collections import Counter

from daemon.extract.textclean import is_chrome_line

_TOKEN = re.compile(r"\w+")
# A precise extraction shorter than this share of the recall one probably lost the article.
RECALL_RATIO = 0.25
# ... and shorter than this many characters.
SHORT_CHARS = 500
# Share of a text's shingles found in articleBody for the two to be "consistent".
CONSISTENT = 0.6


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
    precise: str, recall: str | None, article_body: str | None, *, title: str | None = None
) -> str:
    """The best body among the precise and recall extractions, cleaned of chrome lines."""
    body = _pick(precise, recall, article_body)
    if article_body and len(article_body) >= 200:
        body = _within(body, shingle_set(article_body))
    lines = [line for line in body.split("\n") if line.strip() and not is_chrome_line(line)]
    return "\n".join(_without_headline(lines, title))


def _without_headline(lines: list[str], title: str | None) -> list[str]:
    """Drop the headline repeated in the body, and the section kicker just above it."""
    key = " ".join((title or "").split()).casefold()
    if not key:
        return lines
    for i, line in enumerate(lines[:4]):
        if " ".join(line.split()).casefold() == key:
            above = lines[:i]
            if all(len(x.split()) <= 3 for x in above):
                return lines[i + 1 :]
            return above + lines[i + 1 :]
    return lines


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


def _within(body: str, reference: Counter[tuple[str, ...]]) -> str:
    """Lines of `body` that articleBody contains, when the two agree overall."""
    if contained(body, reference) < CONSISTENT:
        return body
    kept = [line for line in body.split("\n") if contained(line, reference) >= 0.5]
    return "\n".join(kept)
