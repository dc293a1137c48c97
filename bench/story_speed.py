"""Cost per article of the story stage with a full window, and memory per article in it.

    PYTHONPATH=. python bench/story_speed.py --corpora ../shared/corpora --live 100000

1. Fill: the window gets `--live` articles (default 100,000, spread over 72 h).  Their profiles
   are those of real corpus bodies (L3S-GN1 and Zyte in English, the SemEval pairs in Turkish,
   Arabic and French), each copy with a few words of its own, so the index holds the term
   distribution of real news; each article is its own story.  Memory: RSS delta per article
   (index, postings, term counts, profiles, stories).
2. Speed: `Storyteller.decide()` for `--articles` real bodies arriving after the fill (profile,
   candidates, scoring, indexing and the window's eviction to stay at `--live`), on one core
   (process CPU time and wall time), then `commit()` (the SQLite write) apart.  As in the
   daemon, each article arrives with its `LeadTerms` (the stems of its lead), which the
   extraction worker computes: that cost is measured apart ("lead_terms in the worker").
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import logging
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from bench.dedup_quality import corpus_bodies
from bench.dedup_speed import rss_bytes
from daemon.dedup.keys import content_hash, event_id
from daemon.records import Article, ArticleFields, FeedEntry, Origin, Verdict
from daemon.settings import StoriesSettings
from daemon.state.sqlite import Store
from daemon.stories.index import Story
from daemon.stories.storyteller import Storyteller
from daemon.stories.terms import Profile, lead_terms, profile

START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = timedelta(hours=72)


def bodies(corpora: Path) -> list[tuple[str, str | None]]:
    """(text, language) of the English corpus bodies and every SemEval article."""
    found: list[tuple[str, str | None]] = [(b, "en") for b in corpus_bodies(corpora)]
    path = corpora / "semeval2022-task8-news-similarity" / "pairs.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            pair = json.loads(line)
            found += [(pair["text1"], pair["lang1"]), (pair["text2"], pair["lang2"])]
    return found


def variant(base: Profile, i: int) -> Profile:
    """A copy of `base` whose last eight terms are words of its own (new objects throughout)."""
    own = tuple(f"w{i}x{k}" for k in range(8))
    terms = tuple(t for t in base.terms[:-8]) + own
    return Profile(terms, tuple(base.weights), tuple(base.names), base.language)


def fill(teller: Storyteller, texts: list[tuple[str, str | None]], live: int) -> tuple[float, int]:
    bases = [profile(None, text, language) for text, language in texts]
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    step = WINDOW.total_seconds() / live
    for i in range(live):
        t = START.timestamp() + i * step
        eid = f"fill-{i:08d}"
        story = Story(eid, None, t, t)
        story.add(t, "outlet.example", bases[i % len(bases)].language)
        teller.index.add(eid, story, variant(bases[i % len(bases)], i), t)
    elapsed = time.perf_counter() - started
    gc.collect()
    return elapsed, rss_bytes() - before


async def measure(
    teller: Storyteller, texts: list[tuple[str, str | None]], count: int
) -> dict[str, list[float]]:
    rng = random.Random(7)
    cpu: list[float] = []
    wall: list[float] = []
    commits: list[float] = []
    worker: list[float] = []
    now = START + WINDOW
    for i in range(count):
        text, language = texts[rng.randrange(len(texts))]
        url = f"https://new.example/{i}"
        entry = FeedEntry(origin=Origin(kind="replay", id="bench"), url=url)
        at = now + timedelta(seconds=i)
        fields = ArticleFields(language=language, published_at=at)
        c0 = time.process_time()
        lead = lead_terms(text, language)
        worker.append(time.process_time() - c0)
        item = Article(entry=entry, url=url, canonical_url=url, text=text,
                       fetched_at=at, extraction="ok", fields=fields, lead_terms=lead)  # fmt: skip
        own = event_id(url, content_hash(text))
        c0, w0 = time.process_time(), time.perf_counter()
        verdict = await teller.decide(item, Verdict("new", own), own)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        w1 = time.perf_counter()
        await teller.commit(verdict)
        commits.append(time.perf_counter() - w1)
    return {"cpu": cpu, "wall": wall, "commit": commits, "worker": worker}


def micros(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    mean, median = statistics.fmean(values), statistics.median(values)
    return f"mean {mean * 1e6:8.0f}  median {median * 1e6:8.0f}  p99 {p99 * 1e6:8.0f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=2_000)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    texts = bodies(args.corpora)
    store = Store(":memory:")
    await store.open()
    settings = StoriesSettings(max_articles=args.live)
    teller = Storyteller(settings, store)
    await teller.start()
    seconds, rss = fill(teller, texts, args.live)
    print(f"corpus bodies: {len(texts):,}; window filled with {len(teller.index):,} articles "
          f"in {seconds:.1f} s")  # fmt: skip
    print(f"memory: RSS delta {rss / 2**20:.1f} MiB, {rss / args.live:,.0f} bytes per article")
    timings = await measure(teller, texts, args.articles)
    print(f"decide() at {len(teller.index):,} live articles, {args.articles:,} articles, µs:")
    print(f"  CPU (one core)  {micros(timings['cpu'])}")
    print(f"  wall            {micros(timings['wall'])}")
    print(f"  commit() wall   {micros(timings['commit'])}")
    print(f"lead_terms() in the extraction worker, CPU µs: {micros(timings['worker'])}")
    await store.close()


if __name__ == "__main__":
    asyncio.run(main())
