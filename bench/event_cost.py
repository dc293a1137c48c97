"""CPU per article of what the event loop does between extraction and the Kafka producer.

    PYTHONPATH=. python bench/event_cost.py --corpora ../shared/corpora [--pages 200] [--profile]

Pages from scrapinghub then fundus are extracted first, in this process and unmeasured (that
is the workers' share).  Then, per article, measured with `time.process_time()` over several
passes: the extraction stage's decision on the loop (`Extractor._decide`: fallbacks, authors,
dates, canonical URL, site name), `article_event` (one validated pydantic model), the message
encoding (`model_dump_json`, once unless the event must be cut to fit) and the CloudEvents
headers.  Deduplication and story decisions are left out (their own benches).  `--profile`
prints a cProfile of one pass, by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpora import LOADERS
from daemon.events import ArticleEvent, article_event, cloudevent_headers
from daemon.extract.extractor import Extractor
from daemon.extract.result import Extracted
from daemon.extract.work import extract_html
from daemon.records import FeedEntry, FetchedPage, Origin, Verdict
from daemon.settings import ExtractSettings
from daemon.sinks.base import OutMessage
from daemon.sinks.fit import fit

Extractions = list[tuple[FetchedPage, Extracted]]
_VERDICT = Verdict("new", "c" * 36, event_id="e" * 36, content_hash="sha256:" + "0" * 64)


def _extractions(root: Path, limit: int) -> Extractions:
    docs = [d for corpus in ("scrapinghub", "fundus") for d in LOADERS[corpus](root)][:limit]
    fetched = datetime.now(UTC)
    out: Extractions = []
    for doc in docs:
        url = doc.url or "https://example.com/"
        entry = FeedEntry(Origin("feed", "bench", "https://example.com/rss"), url, guid=doc.id)
        page = FetchedPage(entry, url, 200, "text/html", doc.html, fetched)
        out.append((page, extract_html(doc.html, url, declared_language=None)))
    return out


def _encode(event: ArticleEvent) -> OutMessage:
    return OutMessage("articles", b"k", event.model_dump_json(exclude_none=False).encode(), ())


def _loop_side(extractor: Extractor, extractions: Extractions) -> None:
    for page, found in extractions:
        article = extractor._decide(page, found)
        event = article_event(article, _VERDICT)
        fit(event, _encode, lambda message: len(message.value) - 1_000_000)
        cloudevent_headers(event, time=page.fetched_at)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, required=True)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    extractions = _extractions(args.corpora, args.pages)
    extractor = Extractor(ExtractSettings())
    _loop_side(extractor, extractions)  # warm
    timings = []
    for _ in range(args.passes):
        started = time.process_time()
        _loop_side(extractor, extractions)
        timings.append(1000 * (time.process_time() - started) / len(extractions))
    event_only = []
    articles = [extractor._decide(page, found) for page, found in extractions]
    for _ in range(args.passes):
        started = time.process_time()
        for article in articles:
            _encode(article_event(article, _VERDICT))
        event_only.append(1000 * (time.process_time() - started) / len(articles))
    load = os.getloadavg()[0]
    print(f"articles: {len(extractions)}, passes: {args.passes}, load average: {load:.2f}")
    print(f"loop side per article (decide + event + encode + headers): {min(timings):.3f} ms CPU")
    print(f"  of which article_event + model_dump_json:                 {min(event_only):.3f} ms")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(_loop_side, extractor, extractions)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
