"""Body-text and metadata quality of newsd's extraction vs plain trafilatura, per corpus.

    PYTHONPATH=. python bench/extract_quality.py --corpora ../shared/corpora [--split test]

Body text: precision/recall/F1 of word 4-gram shingles as the Zyte article-extraction-benchmark
scores them (tokens are `\\w+` runs; per-document tp/fp/fn are normalised to sum 1, then summed
over the corpus).  trafilatura-eval only has snippets: a `with` snippet found is a true positive,
missed a false negative; a `without` snippet found is a false positive (its upstream scoring).
Metadata: title (exact after whitespace/case folding), date (same calendar day), author (every
expected name found among the extracted ones), on the corpora that state them.

`--split test` scores only the held-out third of each corpus (see bench/corpora.py), which was
never looked at while tuning newsd.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpora import LOADERS, Doc
from daemon.extract.result import Extracted
from daemon.extract.work import extract_html

_TOKEN = re.compile(r"\w+", re.UNICODE)
BODY_CORPORA = ("scrapinghub", "l3s-gn1", "trafilatura-eval", "fundus")
META_CORPORA = ("fundus", "goose3", "readability")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def shingle_match(truth: str, pred: str) -> tuple[float, float, float]:
    """Zyte's string_shingle_matching: normalised (tp, fp, fn) of 4-token shingles."""
    t, p = shingles(truth), shingles(pred)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def snippet_match(doc: Doc, pred: str) -> tuple[float, float, float]:
    flat = " ".join(pred.split())
    tp = sum(1 for s in doc.with_snippets if " ".join(s.split()) in flat)
    fn = len(doc.with_snippets) - tp
    fp = sum(1 for s in doc.without_snippets if " ".join(s.split()) in flat)
    return float(tp), float(fp), float(fn)


def prf(rows: Iterable[tuple[float, float, float]]) -> tuple[float, float, float]:
    tp = fp = fn = 0.0
    for a, b, c in rows:
        tp, fp, fn = tp + a, fp + b, fn + c
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def newsd(doc: Doc) -> Extracted:
    return extract_html(doc.html, doc.url, favor_precision=True, declared_language=None)


def plain(favor_precision: bool) -> Callable[[Doc], str]:
    def run(doc: Doc) -> str:
        out = trafilatura.extract(doc.html, url=doc.url, favor_precision=favor_precision)
        return out or ""

    return run


def body_table(root: Path, split: str) -> None:
    systems: dict[str, Callable[[Doc], str]] = {
        "newsd": lambda d: newsd(d).text,
        "traf-default": plain(False),
        "traf-precision": plain(True),
    }
    print(f"\nBody text (split={split}): P / R / F1")
    print(f"{'corpus':18s} {'docs':>5s}  " + "  ".join(f"{s:>20s}" for s in systems))
    for corpus in BODY_CORPORA:
        docs = [d for d in LOADERS[corpus](root) if split in ("all", d.split)]
        cells = []
        for run in systems.values():
            score = snippet_match if corpus == "trafilatura-eval" else _body_score
            p, r, f = prf(score(d, run(d)) for d in docs)
            cells.append(f"{p:.3f}/{r:.3f}/{f:.3f}")
        print(f"{corpus:18s} {len(docs):5d}  " + "  ".join(f"{c:>20s}" for c in cells))


def _body_score(doc: Doc, pred: str) -> tuple[float, float, float]:
    return shingle_match(doc.body or "", pred)


def _norm(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def meta_scores(
    doc: Doc, title: str | None, authors: list[str], date: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if doc.title:
        out["title"] = _norm(title) == _norm(doc.title)
    if doc.date:
        out["date"] = (date or "")[:10] == doc.date
    if doc.authors:
        found = {_norm(a) for a in authors}
        out["author"] = all(
            _norm(a) in found or any(_norm(a) in f for f in found) for a in doc.authors
        )
    return out


def _traf_meta(doc: Doc) -> tuple[str | None, list[str], str | None]:
    d = trafilatura.bare_extraction(doc.html, url=doc.url, with_metadata=True)
    if d is None:
        return None, [], None
    authors = [a.strip() for a in re.split(r";|,| and ", d.author or "") if a.strip()]
    return d.title, authors, d.date


def _newsd_meta(doc: Doc) -> tuple[str | None, list[str], str | None]:
    e = newsd(doc).fields
    date = e.published_at.date().isoformat() if e.published_at else None
    return e.title, list(e.authors), date


def meta_table(root: Path, split: str) -> None:
    print(f"\nMetadata accuracy (split={split}): newsd / trafilatura (n)")
    print(f"{'corpus':14s} {'title':>22s} {'date':>22s} {'author':>22s}")
    for corpus in META_CORPORA:
        docs = [d for d in LOADERS[corpus](root) if split in ("all", d.split)]
        hits: dict[str, list[tuple[bool, bool]]] = {"title": [], "date": [], "author": []}
        for doc in docs:
            ours = meta_scores(doc, *_newsd_meta(doc))
            theirs = meta_scores(doc, *_traf_meta(doc))
            for key, value in ours.items():
                hits[key].append((value, theirs[key]))
        cells = []
        for key in ("title", "date", "author"):
            pairs = hits[key]
            n = len(pairs)
            a = sum(p[0] for p in pairs) / n if n else 0.0
            b = sum(p[1] for p in pairs) / n if n else 0.0
            cells.append(f"{a:.3f} / {b:.3f} ({n})")
        print(f"{corpus:14s} " + " ".join(f"{c:>22s}" for c in cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, required=True)
    parser.add_argument("--split", choices=("all", "dev", "test"), default="all")
    parser.add_argument("--no-meta", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    body_table(args.corpora, args.split)
    if not args.no_meta:
        meta_table(args.corpora, args.split)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
