"""The dedup owner's ceiling: articles per second it decides and publishes from the internal
topic, on one core, against the test broker (Tansu, spawned here on a free loopback port).

    PYTHONPATH=. python bench/cluster_dedup.py --corpora ../shared/corpora --copies 2

1. Fill `<prefix>.articles` with every corpus body (first sight) and `--copies` variants of each
   at other URLs (reposts: edits, truncations, chrome; `tests/dedup/variants.py`), each with the
   fingerprint and lead terms an extraction worker attaches (`--bare`: without them, so the
   owner computes both, as for a record of an instance that does not carry them).
2. Start one `DedupOwner` and time it from its first record to the acknowledgement of the last
   public event (decide, stories, encode, publish with acks=all, changelog write, offset
   commit): articles per second, and per CPU second of this process (the broker's own CPU is
   not counted: it is another process).
3. Start a second owner in a new group on the same topics: it rebuilds the index from the
   changelog (timed: documents per second) and then skips every redelivered article.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog

from bench.dedup_quality import article, corpus_bodies
from daemon.cluster.articles import ArticleForwarder
from daemon.cluster.dedupowner import DedupOwner
from daemon.dedup.fingerprint import FingerprintParams, fingerprint
from daemon.observability.metrics import Metrics
from daemon.records import Article
from daemon.settings import Settings, load
from daemon.sinks.embedded import EmbeddedBroker, free_port
from daemon.sinks.kafka import KafkaSink
from daemon.stories.terms import lead_terms
from tests.dedup.variants import variants


def settings_for(bootstrap: str, group: str, prefix: str) -> Settings:
    return load(
        None,
        kafka={"bootstrap_servers": bootstrap, "enable_idempotence": False, "linger_ms": 5,
               "topics": {"prefix": prefix, "partitions": 1}},
        cluster={"enabled": True, "group": group, "topic_prefix": prefix + "cluster",
                 "session_timeout_ms": 1000, "heartbeat_interval_ms": 200},
    )  # fmt: skip


def computed(settings: Settings, made: Article) -> Article:
    """The article as an extraction worker hands it on: with its fingerprint and lead terms."""
    params = FingerprintParams.of(settings.dedup)
    return replace(made, fingerprint=fingerprint(made.text, params),
                   lead_terms=lead_terms(made.text, made.fields.language))  # fmt: skip


async def fill(settings: Settings, corpora: Path, copies: int, bare: bool) -> int:
    bodies = corpus_bodies(corpora)
    rng = random.Random(1)
    texts = [(b, f"https://o.example/{i}") for i, b in enumerate(bodies)]
    for i, body in enumerate(bodies):
        made = list(variants(body, rng).items())[:copies]
        texts += [(text, f"https://c.example/{i}/{name}") for name, text in made]
    forwarder = ArticleForwarder(settings)
    await forwarder.start()
    try:
        made = [article(text, url) for text, url in texts]
        made = made if bare else [computed(settings, one) for one in made]
        deliveries = [await forwarder(one) for one in made]
        await asyncio.gather(*deliveries)
    finally:
        await forwarder.close()
    return len(texts)


async def drive(settings: Settings, until: Any) -> tuple[DedupOwner, float, float]:
    """Run an owner until `until(metrics)`; (owner, wall seconds, CPU seconds) from its start."""
    sink = KafkaSink(settings.kafka, settings.kafka.bootstrap_servers or "")
    await sink.start()
    owner = DedupOwner(settings, sink, Metrics())
    stop = asyncio.Event()
    wall, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(owner.run(stop))
    while not until(owner.metrics.snapshot()):  # noqa: ASYNC110 - polling a counter
        await asyncio.sleep(0.05)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stop.set()
    await task
    await sink.close()
    return owner, wall, cpu


def published(counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if k.startswith("publish.ok."))


async def bench(corpora: Path, copies: int, bare: bool) -> None:
    broker = EmbeddedBroker("127.0.0.1", free_port())
    await broker.start()
    try:
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        first = settings_for(broker.bootstrap_servers, "bench-a", prefix)
        total = await fill(first, corpora, copies, bare)
        owner, wall, cpu = await drive(first, lambda c: published(c) >= total)
        counts = owner.metrics.snapshot()
        second = settings_for(broker.bootstrap_servers, "bench-b", prefix)
        rebuilt, wall2, _ = await drive(second, lambda c: c.get("dedup.skip.unchanged", 0) >= total)
        docs = rebuilt.metrics.snapshot().get("owner.rebuilt_docs", 0)
    finally:
        await broker.stop()
    rebuild_s = rebuilt.last_rebuild_seconds
    rows = [
        ("articles on the internal topic", f"{total:,}"),
        ("  decided new / duplicate / updated", "{} / {} / {}".format(
            counts.get("dedup.new", 0), counts.get("dedup.duplicate", 0),
            counts.get("dedup.updated", 0))),
        ("owner: seconds, first record to last public ack", f"{wall:.1f}"),
        ("owner: articles decided and published per second", f"{total / wall:,.0f}"),
        ("owner: articles per CPU second of the owner process", f"{total / cpu:,.0f}"),
        ("failover: documents rebuilt from the changelog", f"{docs:,}"),
        ("failover: rebuild seconds", f"{rebuild_s:.1f}"),
        ("failover: documents rebuilt per second", f"{docs / rebuild_s:,.0f}"),
        ("failover: seconds until every redelivery was skipped", f"{wall2:.1f}"),
    ]  # fmt: skip
    print(f"{'measure':56} {'value':>16}")
    for name, value in rows:
        print(f"{name:56} {value:>16}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--copies", type=int, default=2, help="reposts per corpus body")
    parser.add_argument("--bare", action="store_true", help="records without fingerprints")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    asyncio.run(bench(args.corpora, args.copies, args.bare))


if __name__ == "__main__":
    main()
