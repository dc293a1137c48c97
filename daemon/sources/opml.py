"""OPML 2.0 subscription lists in and out (`newsd feeds import FILE`, `newsd feeds export`).

Import: every `<outline xmlUrl=...>` at any depth is a feed; its `title` (else `text`) is taken
as the publisher, its `language` as the declared language.  Its tags are the OPML 2.0 `category`
attribute (comma-separated slash paths, `/News/World` → `News/World`) followed by the path of
the folder outlines it sits in, duplicates dropped.  A `newsdId` attribute (written by export)
keeps a feed's id.  Only http/https URLs are accepted.  The XML parser resolves no entities and
reaches no network (an OPML file is untrusted input).

Export: one folder outline per first tag (what most readers show as categories), the feed
outlines inside it with `category` listing every tag, so an export imported again gives the same
feeds, ids and tags.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from lxml import etree

from daemon.dedup.keys import canonical_url
from daemon.errors import ConfigError
from daemon.records import FeedSpec
from daemon.settings import FeedConfig
from daemon.sources.feedlist import (
    FEED_ID,
    FeedListing,
    feed_id_for,
    merge_feeds,
    specs_from_config,
)
from daemon.sources.feedstate import FeedState, FeedStateRepo


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
        url = _attr(outline, "xmlUrl")
        if not url:
            continue
        if not url.lower().startswith(("http://", "https://")):
            invalid.append(url)
            continue
        specs.append(_spec(outline, url))
    return specs, invalid


def _attr(outline: Any, name: str) -> str:
    return (outline.get(name) or outline.get(name.lower()) or "").strip()


def _spec(outline: Any, url: str) -> FeedSpec:
    title = (outline.get("title") or outline.get("text") or "").strip()
    feed_id = _attr(outline, "newsdId")
    return FeedSpec(
        feed_id=feed_id if FEED_ID.fullmatch(feed_id) else feed_id_for(url),
        url=url,
        publisher=title if title and title != url else None,
        language=_attr(outline, "language") or None,
        tags=_tags(outline),
    )


def _tags(outline: Any) -> tuple[str, ...]:
    declared = [c.strip().strip("/") for c in _attr(outline, "category").split(",")]
    folders = [
        (parent.get("title") or parent.get("text") or "").strip()
        for parent in outline.iterancestors("{*}outline")
    ]
    folder = "/".join(reversed([f for f in folders if f]))
    return tuple(dict.fromkeys(t for t in [*declared, folder] if t))


def write_opml(specs: Sequence[FeedSpec], *, title: str = "newsd feeds") -> bytes:
    """An OPML 2.0 document listing `specs` (see the module docstring for the layout)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    body = etree.SubElement(root, "body")
    folders: dict[str, Any] = {}
    for spec in specs:
        parent = body
        if spec.tags:
            parent = folders.get(spec.tags[0])
            if parent is None:
                parent = folders[spec.tags[0]] = etree.SubElement(body, "outline")
                parent.set("text", spec.tags[0])
                parent.set("title", spec.tags[0])
        etree.SubElement(parent, "outline", _outline_attrs(spec))
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def _outline_attrs(spec: FeedSpec) -> dict[str, str]:
    attrs = {"type": "rss", "text": spec.publisher or spec.url, "xmlUrl": spec.url}
    if spec.publisher:
        attrs["title"] = spec.publisher
    if spec.language:
        attrs["language"] = spec.language
    if spec.tags:
        attrs["category"] = ",".join(f"/{tag}" for tag in spec.tags)
    attrs["newsdId"] = spec.feed_id
    return attrs


async def import_opml(
    path: Path, repo: FeedStateRepo, *, configured: Sequence[FeedConfig] = ()
) -> ImportResult:
    """Store the feeds of an OPML file; feeds already configured or imported are skipped."""
    specs, invalid = read_opml(await asyncio.to_thread(path.read_bytes))
    known = await load_feeds(repo, configured)
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
    repo: FeedStateRepo,
    *,
    configured: Sequence[FeedConfig] = (),
    paused: frozenset[str] = frozenset(),
) -> list[FeedListing]:
    """Every feed newsd polls (config first, then run-time ones) with its stored state, if any."""
    config_specs = specs_from_config(configured)
    config_ids = {s.feed_id for s in config_specs}
    states = await repo.load()
    sources = await repo.import_sources()
    rows: list[FeedListing] = []
    for spec in merge_feeds(config_specs, await repo.imports()):
        source = "config" if spec.feed_id in config_ids else sources.get(spec.feed_id, "cli")
        rows.append(listing(spec, states.get(spec.feed_id), source, spec.feed_id in paused))
    return rows


def listing(spec: FeedSpec, state: FeedState | None, source: str, paused: bool) -> FeedListing:
    """One row of `newsd feeds list`: the spec, its control and its stored state."""
    retired = bool(state and state.retired)
    return FeedListing(
        feed_id=spec.feed_id,
        url=state.url if state else spec.url,
        source=source.split(":", 1)[0],
        publisher=spec.publisher,
        state="paused" if paused else "retired" if retired else "active",
        tags=spec.tags,
        retired=retired,
        error_streak=state.error_streak if state else 0,
        next_poll_at=state.next_poll_at if state else None,
        last_success_at=state.last_success_at if state else None,
        last_new_item_at=state.last_new_item_at if state else None,
        last_error=state.last_error if state else None,
        last_error_at=state.last_error_at if state else None,
    )


async def load_feeds(repo: FeedStateRepo, configured: Sequence[FeedConfig]) -> list[FeedSpec]:
    """The feeds to poll: configured ones (duplicates rejected) plus stored OPML imports."""
    return merge_feeds(specs_from_config(configured), await repo.imports())
