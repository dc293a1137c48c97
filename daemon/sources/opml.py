"""OPML subscription lists → feeds stored in the durable state (`newsd feeds import FILE`).

Every `<outline xmlUrl=...>` at any depth is a feed; its `title` (else `text`) is taken as the
publisher.  Only http/https URLs are accepted.  The XML parser resolves no entities and reaches
no network (an OPML file is untrusted input).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from daemon.dedup.keys import canonical_url
from daemon.errors import ConfigError
from daemon.records import FeedSpec
from daemon.settings import FeedConfig
from daemon.sources.feedlist import FeedListing, feed_id_for, merge_feeds, specs_from_config
from daemon.sources.feedstate import FeedStateRepo


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: feeds added, and the URLs it left out and why."""

    added: list[FeedSpec] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # already known (config or stored)
    invalid: list[str] = field(default_factory=list)  # not http(s)


def read_opml(data: bytes) -> tuple[list[FeedSpec], list[str]]:
    """The feeds of an OPML document (document order, first of duplicates) and invalid URLs."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ConfigError("opml", f"not an OPML document: {exc}") from exc
    if root is None or etree.QName(root).localname.lower() != "opml":
        raise ConfigError("opml", "not an OPML document (no <opml> root)")
    specs: list[FeedSpec] = []
    invalid: list[str] = []
    for outline in root.iter("{*}outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue
        if not url.lower().startswith(("http://", "https://")):
            invalid.append(url)
            continue
        title = (outline.get("title") or outline.get("text") or "").strip() or None
        specs.append(FeedSpec(feed_id=feed_id_for(url), url=url, publisher=title))
    return specs, invalid


async def import_opml(
    path: Path, repo: FeedStateRepo, *, configured: Sequence[FeedConfig] = ()
) -> ImportResult:
    """Store the feeds of an OPML file; feeds already configured or imported are skipped."""
    specs, invalid = read_opml(await asyncio.to_thread(path.read_bytes))
    known = merge_feeds(specs_from_config(configured), await repo.imports())
    known_urls = {canonical_url(s.url) for s in known}
    known_ids = {s.feed_id for s in known}
    added: list[FeedSpec] = []
    duplicates: list[str] = []
    for spec in specs:
        key = canonical_url(spec.url)
        if key in known_urls or spec.feed_id in known_ids:
            duplicates.append(spec.url)
            continue
        known_urls.add(key)
        known_ids.add(spec.feed_id)
        added.append(spec)
    await repo.add_imports(added, source=f"opml:{path.name}", now=time.time())
    return ImportResult(added=added, duplicates=duplicates, invalid=invalid)


async def list_feeds(
    repo: FeedStateRepo, *, configured: Sequence[FeedConfig] = ()
) -> list[FeedListing]:
    """Every feed newsd polls (config first, then imports) with its stored state, if any."""
    config_specs = specs_from_config(configured)
    config_ids = {s.feed_id for s in config_specs}
    states = await repo.load()
    rows: list[FeedListing] = []
    for spec in merge_feeds(config_specs, await repo.imports()):
        state = states.get(spec.feed_id)
        rows.append(
            FeedListing(
                feed_id=spec.feed_id,
                url=state.url if state else spec.url,
                source="config" if spec.feed_id in config_ids else "opml",
                publisher=spec.publisher,
                retired=state.retired if state else False,
                error_streak=state.error_streak if state else 0,
                next_poll_at=state.next_poll_at if state else None,
            )
        )
    return rows


async def load_feeds(repo: FeedStateRepo, configured: Sequence[FeedConfig]) -> list[FeedSpec]:
    """The feeds to poll: configured ones (duplicates rejected) plus stored OPML imports."""
    return merge_feeds(specs_from_config(configured), await repo.imports())
