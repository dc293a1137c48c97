"""Precision and recall of repost detection on variants of real corpus texts.

    PYTHONPATH=. python bench/dedup_quality.py --corpora ../shared/corpora

Positives: every L3S-GN1 gold full text and Zyte (scrapinghub) body of >= 80 words is decided
first (as originals); then each variant (chrome, headline, 10 % edited, truncated to 60 %, wire
credit, all combined) must come out as a duplicate of ITS original.  SemEval-2022 task 8 pairs
graded Overall <= 1.5 whose texts overlap (containment >= 0.8) are positives too.
Negatives (each pair decided alone, in an index of its own: a, then b, both released): seeds
pairs (002/003 ...), SemEval pairs with Overall >= 3.5, SemEval Overall <= 1.5 pairs with
containment < 0.5 (same story, other words), the shared-boilerplate trap (two short items with
one of two fixed long footers), and footer pairs generated from corpus text
(`variants.footer_pairs`: own text 20-80 words, a footer of 60-200 words seen for the first
time, same site and across sites).
Boilerplate stream (its own index, committed as published): 10 sites, each with a footer cut
from a corpus body, 30 items per site (own text 20-80 words + the site's footer) in turn; every
item must be new; then each item's re-headlined, wire-credited and chrome copies must be
duplicates of it.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import random
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import structlog

from daemon.dedup.deduper import Deduper
from daemon.dedup.shingles import shingle_ids
from daemon.dedup.verify import overlap
from daemon.records import Article, FeedEntry, Origin, Verdict
from daemon.settings import DedupSettings
from daemon.state.sqlite import Store
from tests.dedup.variants import (
    FOOTERS,
    boilerplate_pair,
    corpus_footer,
    footer_pairs,
    variants,
    with_chrome,
    with_headline,
    with_wire_credit,
)

MIN_WORDS = 80
TRAP_WORDS = (60, 80, 120)
FOOTER_PAIRS = 600
STREAM_SITES, STREAM_ITEMS = 10, 30


def article(text: str, url: str) -> Article:
    entry = FeedEntry(origin=Origin(kind="replay", id="bench"), url=url)
    return Article(entry=entry, url=url, canonical_url=url, text=text,
                   fetched_at=datetime.now(UTC), extraction="ok")  # fmt: skip


def corpus_bodies(corpora: Path) -> list[str]:
    gold = corpora / "l3s-gn1-google-news-2008" / "gold_derived.jsonl.gz"
    with gzip.open(gold, "rt") as handle:
        rows = [json.loads(line) for line in handle]
    bodies = ["\n\n".join(b.strip() for b in r["fulltext_blocks"] if b.strip()) for r in rows]
    truth = corpora / "scrapinghub-article-extraction-benchmark" / "ground-truth.json"
    bodies += [v["articleBody"] for v in json.loads(truth.read_text()).values()]
    return [b for b in bodies if len(b.split()) >= MIN_WORDS]


def semeval_pairs(corpora: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]], int]:
    """(positive pairs, negative pairs, ambiguous count), labelled as the module says."""
    path = corpora / "semeval2022-task8-news-similarity" / "pairs.jsonl.gz"
    with gzip.open(path, "rt") as handle:
        rows = [json.loads(line) for line in handle]
    positives, negatives, ambiguous = [], [], 0
    for row in rows:
        pair, grade = (row["text1"] or "", row["text2"] or ""), row["labels"]["Overall"]
        if not all(pair):
            continue
        if grade >= 3.5:
            negatives.append(pair)
        elif grade <= 1.5:
            contained = overlap(shingle_ids(pair[0]), shingle_ids(pair[1])).containment
            if contained >= 0.8:
                positives.append(pair)
            elif contained < 0.5:
                negatives.append(pair)
            else:
                ambiguous += 1
    return positives, negatives, ambiguous


async def run_positives(deduper: Deduper, bodies: list[str], seed: int) -> Counter[str]:
    rng, counts = random.Random(seed), Counter[str]()
    clusters: dict[int, str] = {}
    for i, body in enumerate(bodies):
        original = article(body, f"https://origin.example/{i}")
        verdict = await deduper.decide(original)
        await deduper.commit(original, verdict)
        clusters[i] = verdict.cluster_id
    for i, body in enumerate(bodies):
        for name, text in variants(body, rng).items():
            copy = article(text, f"https://copy.example/{name}/{i}")
            verdict = await deduper.decide(copy)
            counts[score(verdict, clusters[i], name)] += 1
            await deduper.release(copy, verdict)
    return counts


def score(verdict: Verdict, expected_cluster: str, name: str) -> str:
    if verdict.kind == "duplicate" and verdict.cluster_id == expected_cluster:
        return "tp"
    return f"fp_wrong_cluster:{name}" if verdict.kind == "duplicate" else f"fn:{name}"


async def run_pairs(
    deduper: Deduper,
    pairs: list[tuple[str, str]],
    tag: str,
    same_site: list[bool] | None = None,
) -> Counter[str]:
    """Each pair alone: a, then b (both pending, then released); counts b's verdicts."""
    counts = Counter[str]()
    for i, (first, second) in enumerate(pairs):
        a = article(first, f"https://a.example/{tag}/{i}")
        site = "a" if same_site is not None and same_site[i] else "b"
        b = article(second, f"https://{site}.example/{tag}/{i}/b")
        va = await deduper.decide(a)
        vb = await deduper.decide(b)
        counts[f"{tag}:{vb.kind}"] += 1
        await deduper.release(b, vb)
        await deduper.release(a, va)
    return counts


def trap_pairs(bodies: list[str]) -> list[tuple[str, str]]:
    half = len(bodies) // 2
    return [
        boilerplate_pair(bodies[i], bodies[half + i], FOOTERS[i % len(FOOTERS)], words)
        for words in TRAP_WORDS
        for i in range(min(100, half))
    ]


async def run_stream(deduper: Deduper, bodies: list[str], rng: random.Random) -> Counter[str]:
    """The boilerplate stream (module docstring): items first, then copies of each."""
    counts = Counter[str]()
    donors = rng.sample([b for b in bodies if len(b.split()) >= 200], STREAM_SITES)
    footers = [corpus_footer(d, rng.randint(60, 200)) for d in donors]
    owners = rng.sample([b for b in bodies if b not in donors], STREAM_SITES * STREAM_ITEMS)
    items: list[tuple[str, str]] = []
    for n, body in enumerate(owners):
        site = n % STREAM_SITES
        own = " ".join(body.split()[: rng.randint(20, 80)])
        text = f"{own}\n\n{footers[site]}"
        verdict = await deduper.decide(article(text, f"https://site{site}.example/{n}"))
        counts[f"stream_item:{verdict.kind}"] += 1
        await deduper.commit(article(text, f"https://site{site}.example/{n}"), verdict)
        items.append((text, verdict.cluster_id))
    copies = {"headline": with_headline, "wire_credit": with_wire_credit, "chrome": with_chrome}
    for n, (text, cluster) in enumerate(items):
        for name, make in copies.items():
            copy = article(make(text), f"https://other.example/{name}/{n}")
            verdict = await deduper.decide(copy)
            counts[score(verdict, cluster, f"stream_{name}")] += 1
            await deduper.release(copy, verdict)
    return counts


async def fresh_deduper() -> tuple[Deduper, Store]:
    store = Store(":memory:")
    await store.open()
    deduper = Deduper(DedupSettings(), store)
    await deduper.start()
    return deduper, store


def seed_pairs(root: Path) -> list[tuple[str, str]]:
    texts = [p.read_text() for p in sorted((root / "seeds").glob("*.txt"))]
    return [(a, b) for i, a in enumerate(texts) for b in texts[i + 1 :]]


async def main(corpora: Path, seed: int) -> None:
    deduper, store = await fresh_deduper()
    bodies = corpus_bodies(corpora)
    sem_pos, sem_neg, ambiguous = semeval_pairs(corpora)
    started = time.perf_counter()
    positives = await run_positives(deduper, bodies, seed)
    positives.update(
        {f"semeval_same:{k}": v for k, v in (await run_pairs(deduper, sem_pos, "x")).items()}
    )
    # Negatives in an index of their own: a trap item's own text is the opening of a corpus body,
    # and linking it to that body (committed above) would be a correct link, not a false one.
    await store.close()
    deduper, store = await fresh_deduper()
    negatives = Counter[str]()
    negatives.update(await run_pairs(deduper, seed_pairs(Path.cwd()), "seeds"))
    negatives.update(await run_pairs(deduper, sem_neg, "semeval_neg"))
    negatives.update(await run_pairs(deduper, trap_pairs(bodies), "boilerplate_trap"))
    generated = footer_pairs(bodies, random.Random(seed), FOOTER_PAIRS)
    negatives.update(await run_pairs(deduper, [(a, b) for a, b, _ in generated],
                                     "footer_pairs", [s for _, _, s in generated]))  # fmt: skip
    await store.close()
    deduper, store = await fresh_deduper()
    stream = await run_stream(deduper, bodies, random.Random(seed))
    positives.update({k: v for k, v in stream.items() if not k.startswith("stream_item:")})
    negatives.update({k: v for k, v in stream.items() if k.startswith("stream_item:")})
    report(positives, negatives, len(bodies), ambiguous, time.perf_counter() - started)
    await store.close()


def report(pos: Counter[str], neg: Counter[str], bodies: int, ambiguous: int, secs: float) -> None:
    tp = pos["tp"] + pos["semeval_same:x:duplicate"]
    wrong = sum(v for k, v in pos.items() if k.startswith("fp_"))
    false_neg = sum(v for k, v in pos.items() if k.startswith("fn:") or k == "semeval_same:x:new")
    fp = sum(v for k, v in neg.items() if k.endswith(":duplicate")) + wrong
    print(f"bodies {bodies}, semeval ambiguous pairs excluded {ambiguous}, {secs:.1f} s")
    print(f"{'outcome':40} {'count':>7}")
    for key, value in sorted((pos + neg).items()):
        print(f"{key:40} {value:7}")
    print(f"precision {tp / max(1, tp + fp):.4f}  recall {tp / max(1, tp + false_neg):.4f}"
          f"  (tp {tp}, fp {fp}, fn {false_neg})")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main(args.corpora, args.seed))
