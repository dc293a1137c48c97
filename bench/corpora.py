"""Loaders for the ground-truth corpora in `../shared/corpora` (see each corpus' README).

Every loader yields `Doc`s.  `split` is "dev" or "test": a third of each corpus (by a stable hash
of the document id) is held out from any tuning of newsd; benchmarks report it separately.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lxml.html


@dataclass
class Doc:
    """One page with whatever truth its corpus provides."""

    corpus: str
    id: str
    url: str | None
    html: bytes
    body: str | None = None  # full body text
    with_snippets: list[str] = field(default_factory=list)  # trafilatura-eval style
    without_snippets: list[str] = field(default_factory=list)
    title: str | None = None
    authors: list[str] | None = None
    date: str | None = None  # YYYY-MM-DD

    @property
    def split(self) -> str:
        return split_of(self.id)


def split_of(doc_id: str) -> str:
    """Stable dev/test split: one third of the documents is held out."""
    return "test" if int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % 3 == 0 else "dev"


def scrapinghub(root: Path) -> Iterator[Doc]:
    base = root / "scrapinghub-article-extraction-benchmark"
    truth = json.loads((base / "ground-truth.json").read_text())
    for key, item in sorted(truth.items()):
        path = base / "html" / f"{key}.html.gz"
        if path.exists():
            yield Doc(
                "scrapinghub",
                key,
                item.get("url"),
                gzip.decompress(path.read_bytes()),
                item["articleBody"],
            )


def l3s(root: Path) -> Iterator[Doc]:
    base = root / "l3s-gn1-google-news-2008"
    with gzip.open(base / "gold_derived.jsonl.gz", "rt") as handle:
        for line in handle:
            item = json.loads(line)
            path = base / "original" / f"{item['id']}.html.gz"
            if path.exists() and item.get("fulltext"):
                raw = gzip.decompress(path.read_bytes())
                yield Doc("l3s-gn1", item["id"], item["url"], raw, item["fulltext"])


def trafilatura_eval(root: Path) -> Iterator[Doc]:
    base = root / "trafilatura-eval"
    data = json.loads((base / "evaldata.json").read_text())
    for key, item in sorted(data.items()):
        candidates = [base / d / f"{item['file']}.gz" for d in ("eval", "cache")]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            continue
        yield Doc(
            "trafilatura-eval",
            key,
            None,
            gzip.decompress(path.read_bytes()),
            with_snippets=item.get("with") or [],
            without_snippets=item.get("without") or [],
            title=item.get("title"),
            authors=[item["author"]] if item.get("author") else None,
            date=item.get("date"),
        )


def fundus(root: Path) -> Iterator[Doc]:
    base = root / "fundus"
    for item in json.loads((base / "index.json").read_text()):
        expected = json.loads((base / item["expected_json"]).read_text())[item["version_key"]]
        body = expected.get("body") or {}
        parts = list(body.get("summary") or [])
        for section in body.get("sections") or []:
            parts += list(section.get("headline") or []) + list(section.get("paragraphs") or [])
        yield Doc(
            "fundus",
            item["html"],
            item["url"],
            gzip.decompress((base / item["html"]).read_bytes()),
            "\n".join(parts),
            title=expected.get("title"),
            authors=list(expected.get("authors") or []),
            date=(expected.get("publishing_date") or "")[:10] or None,
        )


def goose3(root: Path) -> Iterator[Doc]:
    base = root / "goose3-test-data" / "data"
    for path in sorted(base.glob("*/*.json")):
        page = path.with_suffix(".html.gz")
        if not page.exists():
            continue
        item = json.loads(path.read_text())
        exp: dict[str, Any] = item.get("expected") or {}
        yield Doc(
            "goose3",
            f"{path.parent.name}/{path.stem}",
            item.get("url"),
            gzip.decompress(page.read_bytes()),
            title=exp.get("title"),
            authors=exp.get("authors"),
            date=(exp.get("publish_date") or "")[:10] or None,
        )


def readability(root: Path) -> Iterator[Doc]:
    base = root / "mozilla-readability-test-pages" / "test-pages"
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        meta = json.loads((folder / "expected-metadata.json").read_text())
        expected = (folder / "expected.html").read_text()
        byline = meta.get("byline")
        yield Doc(
            "readability",
            folder.name,
            None,
            gzip.decompress((folder / "source.html.gz").read_bytes()),
            _html_text(expected),
            title=meta.get("title"),
            authors=[byline] if byline else None,
            date=(meta.get("publishedTime") or "")[:10] or None,
        )


def _html_text(markup: str) -> str:
    root = lxml.html.fromstring(markup)
    for node in root.iter("p", "li", "h1", "h2", "h3", "h4", "div", "br", "blockquote"):
        node.tail = "\n" + (node.tail or "")
    return re.sub(r"\n\s*\n+", "\n", html.unescape(root.text_content())).strip()


LOADERS = {
    "scrapinghub": scrapinghub,
    "l3s-gn1": l3s,
    "trafilatura-eval": trafilatura_eval,
    "fundus": fundus,
    "goose3": goose3,
    "readability": readability,
}
