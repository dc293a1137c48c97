"""`newsd extract PATH... [--url URL] [--jsonl]`: run the extraction stage on local files.

`.txt` files are plain-text page captures, anything else is HTML (`.gz` is decompressed).  One
JSON object per input, in input order, with the article's fields.  Runs the same `Extractor` as
the daemon, pool and all, so what it prints is what the pipeline would publish.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.errors import UsageError
from daemon.extract.extractor import Extractor
from daemon.records import Article, FeedEntry, FetchedPage, Origin
from daemon.settings import ExtractSettings

# Files are not fetched: a fixed time keeps the output reproducible.
_FETCHED_AT = datetime(1970, 1, 1, tzinfo=UTC)


def extract_paths(
    paths: list[Path], *, url: str | None, settings: ExtractSettings
) -> list[dict[str, Any]]:
    """Extract every file, in order; the articles' fields as JSON-ready dicts."""
    return asyncio.run(_extract_all(paths, url=url, settings=settings))


async def _extract_all(
    paths: list[Path], *, url: str | None, settings: ExtractSettings
) -> list[dict[str, Any]]:
    extractor = Extractor(settings)
    await extractor.start()
    try:
        pages = [_page(path, url) for path in paths]
        articles = await asyncio.gather(*(extractor(page) for page in pages))
    finally:
        await extractor.close()
    return [article_fields(article) for article in articles]


def _page(path: Path, url: str | None) -> FetchedPage:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UsageError("path", f"{path}: not a gzip file ({exc})") from None
    is_text = path.name.removesuffix(".gz").endswith(".txt")
    page_url = url or path.resolve().as_uri()
    entry = FeedEntry(origin=Origin(kind="cli", id=path.name, url=page_url), url=page_url)
    return FetchedPage(
        entry=entry,
        final_url=page_url,
        status=200,
        content_type="text/plain" if is_text else "text/html",
        body=raw,
        fetched_at=_FETCHED_AT,
        is_text_capture=is_text,
    )


_NOT_FIELDS = ("entry", "fetched_at", "fields", "fingerprint")


def article_fields(article: Article) -> dict[str, Any]:
    """An article as a JSON-ready dict (without its feed entry; dates as ISO 8601)."""
    own = {k: v for k, v in asdict(article).items() if k not in _NOT_FIELDS}
    fields = {**own, **asdict(article.fields)}
    for key in ("published_at", "modified_at"):
        value = fields[key]
        fields[key] = value.isoformat() if isinstance(value, datetime) else None
    for key in ("authors", "tags"):
        fields[key] = list(fields[key])
    return fields


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: print one JSON document (or JSON lines) for the given files."""
    parser = argparse.ArgumentParser(prog="newsd extract")
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--url", default=None, help="URL the file was fetched from")
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    results = extract_paths(args.paths, url=args.url, settings=ExtractSettings())
    if args.jsonl:
        for item in results:
            sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
    else:
        out = results[0] if len(results) == 1 else results
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
