"""A user's mistake on the command line gets one clear line and exit 2, never a traceback; and
the small promises of the CLI an operator relies on (`feeds --config`, warnings, `tail`,
`extract` on several files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli import main
from tests.conftest import REPO, SEEDS

SEED = SEEDS / "000_24d017f70a831444.txt"


def mistakes(tmp: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Named mistakes: argv and environment."""
    a_file = tmp / "plain.txt"
    a_file.write_text("x")
    config = tmp / "ok.toml"
    config.write_text("")
    cfg = ["--config", str(config)]
    return {
        "missing config file": (["config", "--config", str(tmp / "nope.toml")], {}),
        "unreadable config file": (["config", "--config", str(a_file / "under-a-file.toml")], {}),
        "config is a directory": (["config", "--config", str(tmp)], {}),
        "bad TOML": (["config", "--config", str(_write(tmp / "bad.toml", "[log\n"))], {}),
        "missing extract input": (["extract", str(tmp / "nope.html"), *cfg], {}),
        "directory as extract input": (["extract", str(tmp), *cfg], {}),
        "extract input not gzip": (
            ["extract", str(_write(tmp / "page.html.gz", "<html>")), *cfg],
            {},
        ),
        "missing replay path": (["replay", str(tmp / "nope"), "--sink", "jsonl:x", *cfg], {}),
        "missing OPML file": (["feeds", "import", str(tmp / "nope.opml"), *cfg], {}),
        "bad JSON in an env variable": (["config", *cfg], {"NEWSD_KAFKA": "{not json"}),
        "unknown env section": (["config", *cfg], {"NEWSD_FECH__RETRIES": "3"}),
        "unknown env key": (["config", *cfg], {"NEWSD_FETCH__RETRYS": "3"}),
        "bad env value": (["config", *cfg], {"NEWSD_FETCH__RETRIES": "many"}),
        "invalid --since": (["replay", str(SEEDS), "--since", "yesterday", *cfg], {}),
        "state dir is a file": (["run", "--once", "--state", str(a_file), *cfg], {}),
        "replay to a throwaway broker": (["replay", str(SEEDS), "--fresh-state", *cfg], {}),
        "unknown option": (["run", "--no-such-flag", *cfg], {}),
    }


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", list(mistakes(Path("/tmp"))))
def test_each_user_mistake_is_one_line_and_exit_2(name, tmp_path, capsys, monkeypatch):
    """Every listed mistake: exit code 2, exactly one line on stderr naming the problem,
    nothing on stdout, no traceback."""
    argv, env = mistakes(tmp_path)[name]
    for key in [k for k in os.environ if k.startswith("NEWSD_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == 2, (name, err)
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("newsd") and "Traceback" not in err
    assert out == ""


def test_a_mistake_in_a_real_process_prints_no_traceback(tmp_path):
    """The same holds for the installed entry point: `python -m daemon` with a bad env value."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSD_")}
    env |= {"PYTHONPATH": str(REPO), "NEWSD_FECH__RETRIES": "3"}
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "config"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if "NEWSD_FECH__RETRIES" in line
    ]
    assert "Traceback" not in result.stderr


def test_feeds_list_honours_config_given_before_the_subcommand(tmp_path, capsys):
    """`newsd feeds --config FILE list` lists the feeds of FILE (the option is not reset by the
    nested subcommand's default)."""
    config = tmp_path / "newsd.toml"
    config.write_text('[[feeds]]\nid = "one"\nurl = "https://one.example/rss"\n')
    state = ["--state", str(tmp_path / "state")]
    assert main(["feeds", "--config", str(config), "list", "--json", *state]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["url"] for row in listed] == ["https://one.example/rss"]


def test_extract_of_several_files_prints_one_json_array(capsys):
    """Several inputs without --jsonl: one JSON array, in input order; one input: one object."""
    second = SEEDS / "004_1e060974a0c13fb7.txt"
    assert main(["extract", str(SEED), str(second)]) == 0
    articles = json.loads(capsys.readouterr().out)
    assert isinstance(articles, list) and len(articles) == 2
    assert articles[1]["title"] == "Russian troops are withdrawing from the outskirts of Kharkiv"
    assert main(["extract", str(SEED)]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), dict)


def _run(args: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEWSD_")}
    base |= {"PYTHONPATH": str(REPO), "NEWSD_LOG__FORMAT": "json", "NEWSD_OPS__ADDRESS": ""}
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _events(stderr: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_run_without_config_or_feeds_warns_about_both(tmp_path, broker):
    """Started where no config file exists and with no feed configured, `newsd run --once` says
    so (two warnings) and still exits 0."""
    kafka = {
        "NEWSD_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "NEWSD_KAFKA__ENABLE_IDEMPOTENCE": "false",
        "NEWSD_KAFKA__TOPICS__PREFIX": "nofeeds.",
        "NEWSD_EXTRACT__WORKERS": "1",
    }
    result = _run(["run", "--once", "--state", str(tmp_path / "s")], cwd=tmp_path, env=kafka)
    assert result.returncode == 0, result.stderr[-2000:]
    warned = {e["event"] for e in _events(result.stderr) if e["level"] == "warning"}
    assert {"config.not_found", "feeds.none"} <= warned


def test_tail_says_what_it_waits_on_and_warns_about_an_unknown_topic(tmp_path, broker):
    """`newsd tail` names the topic, the broker and where it starts; an unknown topic is a
    warning (it may be created later), not silence."""
    env = {"NEWSD_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers}
    result = _run(["tail", "no.such.topic", "--max", "0"], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    events = {e["event"]: e for e in _events(result.stderr)}
    assert events["tail.unknown_topic"]["topic"] == "no.such.topic"
    waiting = events["tail.waiting"]
    assert waiting["topic"] == "no.such.topic"
    assert waiting["bootstrap_servers"] == broker.bootstrap_servers
