"""The seeds through the whole daemon: `newsd replay seeds/` groups the two Izyum reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_replayed_seeds_group_the_izyum_reports_and_nothing_else(tmp_path: Path) -> None:
    """Seeds 002 and 003 (two outlets on the 10 September 2022 withdrawal from Izyum) share a
    story id and size 2; 000, 001 and 004 each have a story of their own; every story has its
    summary on the stories channel."""
    out = tmp_path / "events.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO), "NEWSD_LOG__FORMAT": "json"}
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "replay", "seeds", "--fresh-state", "--sink",
         f"jsonl:{out}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    articles = {
        Path(line["event"]["url"]).name[:3]: line["event"]
        for line in lines
        if line["channel"] == "articles"
    }
    stories = {line["key"]: line["event"] for line in lines if line["channel"] == "stories"}
    izyum = articles["002"]["story_id"]
    assert articles["003"]["story_id"] == izyum
    assert izyum in (articles["002"]["event_id"], articles["003"]["event_id"])
    assert sorted(articles[n]["story_size"] for n in ("002", "003")) == [1, 2]
    others = [articles[n]["story_id"] for n in ("000", "001", "004")]
    assert len({izyum, *others}) == 4
    assert [articles[n]["story_id"] for n in ("000", "001", "004")] == [
        articles[n]["event_id"] for n in ("000", "001", "004")
    ]
    assert set(stories) == {izyum, *others}
    assert stories[izyum]["article_count"] == 2
