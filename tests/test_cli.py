"""The command-line contract other tools rely on: extract, feeds, replay errors, usage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemon.cli import main
from tests.conftest import SEEDS

OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
<outline text="News"><outline type="rss" text="A" xmlUrl="https://a.example/feed.xml"/>
<outline type="rss" text="B" xmlUrl="https://b.example/rss"/>
<outline type="rss" text="A again" xmlUrl="https://A.example:443/feed.xml"/></outline>
</body></opml>
"""


def test_extract_jsonl_prints_one_object_per_input_in_input_order(capsys):
    """`newsd extract --jsonl` keeps input order and reads .txt as a plain-text capture."""
    paths = [SEEDS / "004_1e060974a0c13fb7.txt", SEEDS / "000_24d017f70a831444.txt"]
    assert main(["extract", "--jsonl", *map(str, paths)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["title"] for line in lines] == [
        "Russian troops are withdrawing from the outskirts of Kharkiv",
        "Pentagon Confirms Russian Troops Have Left Ukraine",
    ]
    assert all("Leave a Reply" not in line["text"] for line in lines)


def test_feeds_import_then_list_survives_in_the_state(tmp_path: Path, capsys):
    """OPML import stores new feeds (duplicates reported, not added); `feeds list` shows them."""
    opml = tmp_path / "subs.opml"
    opml.write_text(OPML)
    config = tmp_path / "newsd.toml"
    config.write_text("")
    state = ["--state", str(tmp_path / "state"), "--config", str(config)]
    assert main(["feeds", "import", str(opml), *state]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert len(imported["added"]) == 2 and len(imported["duplicates"]) == 1
    assert main(["feeds", "list", *state]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(row["url"] for row in listed) == [
        "https://a.example/feed.xml",
        "https://b.example/rss",
    ]
    assert {row["source"] for row in listed} == {"opml"}


def test_replay_of_a_missing_path_is_a_clear_error(tmp_path: Path, capsys):
    """A path that does not exist is a user mistake: exit 2, and it says which."""
    missing = tmp_path / "nope"
    assert main(["replay", str(missing), "--sink", f"jsonl:{tmp_path / 'out.jsonl'}"]) == 2
    assert "nope" in capsys.readouterr().err


def test_unknown_sink_is_a_usage_error(tmp_path: Path, capsys):
    """`--sink` takes kafka or jsonl:FILE; anything else exits 2."""
    assert main(["replay", str(SEEDS), "--sink", "s3://bucket", "--fresh-state"]) == 2
    assert "sink" in capsys.readouterr().err


def test_every_command_accepts_config(tmp_path: Path):
    """--config is accepted after every command name (scripts rely on it)."""
    config = tmp_path / "newsd.toml"
    config.write_text("[log]\nlevel = 'warning'\n")
    assert main(["config", "--config", str(config)]) == 0
    with pytest.raises(SystemExit) as usage:
        main(["run", "--no-such-flag", "--config", str(config)])
    assert usage.value.code == 2
