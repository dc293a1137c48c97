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
    assert main(["feeds", "list", "--json", *state]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(row["url"] for row in listed) == [
        "https://a.example/feed.xml",
        "https://b.example/rss",
    ]
    assert {row["source"] for row in listed} == {"opml"}
    assert {tuple(row["tags"]) for row in listed} == {("News",)}


def test_feeds_list_prints_a_table_with_times_not_epoch_floats(tmp_path: Path, capsys):
    """The default listing is an aligned table: a header, one line per feed, times as UTC clock
    times, `-` for never; an added feed with tags and a pinned interval shows up in it."""
    config = tmp_path / "newsd.toml"
    config.write_text('[[feeds]]\nid = "conf"\nurl = "https://c.example/rss"\n')
    state = ["--state", str(tmp_path / "state"), "--config", str(config)]
    added = ["feeds", "add", "https://d.example/atom", "--id", "d1", "--tag", "Tech", *state]
    assert main([*added, "--interval", "120"]) == 0
    assert json.loads(capsys.readouterr().out)["added"]["min_interval"] == 120
    assert main(["feeds", "pause", "conf", *state]) == 0
    capsys.readouterr()
    assert main(["feeds", "list", *state]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["ID", "URL", "STATE"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["conf", "https://c.example/rss", "paused"],
        ["d1", "https://d.example/atom", "active"],
    ]
    assert "." not in lines[2].split("active", 1)[1]  # no epoch floats anywhere


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["feeds", "remove", "conf"], "declared in the config file"),
        (["feeds", "pause", "nope"], "no feed with id 'nope'"),
        (["feeds", "add", "https://C.example:443/rss"], "already a feed (id conf)"),
        (["feeds", "add", "ftp://x.example/rss"], "http or https"),
        (["feeds", "add", "https://x.example/rss", "--id", "a b"], "letters, digits"),
    ],
    ids=["remove-config-feed", "pause-unknown", "add-duplicate", "add-ftp", "add-bad-id"],
)
def test_feed_commands_refuse_bad_input_with_exit_2(tmp_path: Path, capsys, argv, says):
    """Removing a config-file feed, naming an unknown id, adding a known URL or a bad URL or id
    is refused with exit code 2 and a message that says why, no traceback."""
    config = tmp_path / "newsd.toml"
    config.write_text('[[feeds]]\nid = "conf"\nurl = "https://c.example/rss"\n')
    state = ["--state", str(tmp_path / "state"), "--config", str(config)]
    assert main([*argv, *state]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


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


def test_feeds_export_then_import_elsewhere_gives_the_same_list(tmp_path: Path, capsys):
    """`feeds export FILE` then `feeds import FILE` into another state: the same ids, URLs and
    tags in `feeds list --json` (config feeds exported too, imported as run-time feeds)."""
    config = tmp_path / "newsd.toml"
    config.write_text('[[feeds]]\nid = "conf"\nurl = "https://c.example/rss"\ntags = ["Wire"]\n')
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    one = ["--state", str(tmp_path / "one"), "--config", str(config)]
    two = ["--state", str(tmp_path / "two"), "--config", str(empty)]
    assert (
        main(["feeds", "add", "https://d.example/atom", "--id", "d1", "--tag", "Tech", *one]) == 0
    )
    exported = tmp_path / "feeds.opml"
    assert main(["feeds", "export", str(exported), *one]) == 0
    assert main(["feeds", "import", str(exported), *two]) == 0
    capsys.readouterr()

    def listed(options: list[str]) -> set[tuple[str, str, tuple[str, ...]]]:
        assert main(["feeds", "list", "--json", *options]) == 0
        rows = json.loads(capsys.readouterr().out)
        return {(r["feed_id"], r["url"], tuple(r["tags"])) for r in rows}

    assert (
        listed(one)
        == listed(two)
        == {
            ("conf", "https://c.example/rss", ("Wire",)),
            ("d1", "https://d.example/atom", ("Tech",)),
        }
    )
