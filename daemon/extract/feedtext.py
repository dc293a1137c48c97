"""Pure: feed-provided HTML (content:encoded, summary) as clean text, and same-site URL checks."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import lxml.html

from daemon.dedup.keys import canonical_url
from daemon.records import FeedEntry

_BLOCKS = frozenset(
    {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section"}
)
_DROP = frozenset({"script", "style", "noscript", "iframe", "figure", "figcaption", "form"})
# WordPress and other CMS feed footers: about the post, not part of it.
_FOOTER_RE = re.compile(
    r"^(?:the post .+ appeared first on .+|continue reading.*|read more.*|\[…\]|\[\.\.\.\])$", re.I
)


def html_to_text(fragment: str | None) -> str:
    """Visible text of an HTML fragment, one line per block, feed footers removed."""
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment:
        return _lines(fragment.splitlines())
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return _lines(fragment.splitlines())
    parts: list[str] = []
    _collect(root, parts)
    return _lines("".join(parts).split("\n"))


def entry_text(entry: FeedEntry) -> str:
    """The feed's own text of an entry (its content, else its summary), cleaned; may be ''."""
    return html_to_text(entry.content) or html_to_text(entry.summary)


def _collect(node: lxml.html.HtmlElement, parts: list[str]) -> None:
    tag = node.tag if isinstance(node.tag, str) else ""
    if tag in _DROP:
        parts.append(node.tail or "")
        return
    block = tag in _BLOCKS
    parts.append("\n" if block else "")
    parts.append(node.text or "")
    for child in node:
        _collect(child, parts)
    parts.append("\n" if block else "")
    parts.append(node.tail or "")


def _lines(raw: list[str]) -> str:
    lines = (" ".join(line.split()) for line in raw)
    return "\n".join(line for line in lines if line and not _FOOTER_RE.match(line))


def same_site(url: str, other: str) -> bool:
    """Both URLs are http(s) on the same host, or one host is a subdomain of the other."""
    a, b = urlsplit(url), urlsplit(other)
    if a.scheme not in ("http", "https") or b.scheme not in ("http", "https"):
        return False
    ha = (a.hostname or "").removeprefix("www.")
    hb = (b.hostname or "").removeprefix("www.")
    return bool(ha and hb) and (ha == hb or ha.endswith("." + hb) or hb.endswith("." + ha))


def sane_canonical(declared: str | None, final_url: str) -> str | None:
    """The declared canonical link resolved against the page, if it is believable.

    Rejected: other sites (syndication partners point at the original), non-http schemes, and a
    site's home page declared as the canonical of an article (a common template bug).
    """
    if not declared or len(declared) > 2000:
        return None
    resolved = urljoin(final_url, declared.strip())
    if not same_site(resolved, final_url):
        return None
    if urlsplit(resolved).path in ("", "/") and urlsplit(final_url).path not in ("", "/"):
        return None
    return resolved


def page_canonical(declared: str | None, final_url: str) -> str:
    """The article's canonical URL: the declared one if believable, else the page's own URL,
    normalised (`daemon.dedup.keys.canonical_url`)."""
    return canonical_url(sane_canonical(declared, final_url) or final_url)
