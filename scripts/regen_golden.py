"""Regenerate the extraction golden files in tests/extract/golden/.

    PYTHONPATH=. python scripts/regen_golden.py pages            # expected JSON of every page
    PYTHONPATH=. python scripts/regen_golden.py pages --add CORPUS_FILE.html.gz NAME [--url URL]
    PYTHONPATH=. python scripts/regen_golden.py seeds            # seed goldens (review them!)

Page goldens record what the extractor produces today, so a diff after a change shows exactly
what moved.  Seed goldens are hand-reviewed truth: regenerate them only to start a review, and
read every paragraph before committing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.extract.work import Extracted, extract_html, extract_text  # noqa: E402

GOLDEN = ROOT / "tests" / "extract" / "golden"


def page_expected(extracted: Extracted, url: str | None) -> dict[str, Any]:
    """The golden view of one extraction (stable fields only)."""
    return {
        "url": url,
        "title": extracted.fields.title,
        "paragraphs": extracted.text.split("\n") if extracted.text else [],
        "authors": list(extracted.fields.authors),
        "agencies": list(extracted.agencies),
        "published_at": extracted.fields.published_at.isoformat()
        if extracted.fields.published_at
        else None,
        "site_name": extracted.fields.site_name,
        "language": extracted.fields.language,
        "canonical": extracted.canonical,
    }


def extract_page(path: Path, url: str | None) -> Extracted:
    return extract_html(
        gzip.decompress(path.read_bytes()), url, favor_precision=True, declared_language=None
    )


def regen_pages(add: str | None, name: str | None, url: str | None) -> None:
    pages = GOLDEN / "pages"
    if add:
        shutil.copyfile(add, pages / f"{name}.html.gz")
        (pages / f"{name}.json").write_text(json.dumps({"url": url}))
    for path in sorted(pages.glob("*.html.gz")):
        expected_path = path.with_name(path.name.removesuffix(".html.gz") + ".json")
        old = json.loads(expected_path.read_text()) if expected_path.exists() else {}
        data = page_expected(extract_page(path, old.get("url")), old.get("url"))
        expected_path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        print("wrote", expected_path.relative_to(ROOT))


def regen_seeds() -> None:
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        found = extract_text(path.read_bytes(), declared_language=None)
        data = {
            "title": found.fields.title,
            "summary": found.fields.summary,
            "paragraphs": found.text.split("\n"),
            "authors": list(found.fields.authors),
            "published_at": found.fields.published_at.isoformat()
            if found.fields.published_at
            else None,
            "syndication": found.agencies[0] if found.agencies else None,
            "site_name": found.fields.site_name,
            "language": found.fields.language,
        }
        out = GOLDEN / "seeds" / f"{path.stem}.json"
        out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        print("wrote", out.relative_to(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("pages", "seeds"))
    parser.add_argument("--add", help="gzipped HTML page to copy into the golden set")
    parser.add_argument("--name", help="golden name for --add")
    parser.add_argument("--url", help="URL of the page for --add")
    args = parser.parse_args()
    if args.what == "seeds":
        regen_seeds()
    else:
        regen_pages(args.add, args.name, args.url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
