"""`extract_paths`: local files through the real stage, one JSON object per input, in order."""

from __future__ import annotations

import json
from pathlib import Path

from daemon.extract.command import extract_paths
from daemon.settings import ExtractSettings

SEEDS = Path(__file__).parents[2] / "seeds"
PAGES = Path(__file__).parent / "golden" / "pages"


def test_text_and_html_files_in_input_order() -> None:
    """A .txt capture and a gzipped HTML page give two JSON-ready dicts, in input order."""
    page = sorted(PAGES.glob("fundus__*.html.gz"))[0]
    seed = SEEDS / "004_1e060974a0c13fb7.txt"
    settings = ExtractSettings(workers=1)
    out = extract_paths([seed, page], url="https://example.com/x", settings=settings)
    assert len(out) == 2
    assert out[0]["title"] == "Russian troops are withdrawing from the outskirts of Kharkiv"
    assert out[0]["syndication"] == "AP"
    assert out[0]["site_name"] == "NewsWep"
    assert out[1]["extraction"] == "ok"
    json.dumps(out)  # serialisable as is
