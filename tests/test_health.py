"""The health file: written by the running daemon, judged by `newsd health`."""

from __future__ import annotations

import json

from daemon.cli import main
from daemon.observability import health


def test_fresh_file_is_healthy_and_stale_or_missing_is_not(tmp_path):
    """Healthy only while the file is younger than max_age; a missing file says why."""
    assert not health.check(tmp_path, max_age=60, now=1000.0).healthy
    health.write(tmp_path, started=900.0, counts={"publish.ok.article.new": 3}, now=1000.0)
    fresh = health.check(tmp_path, max_age=60, now=1030.0)
    assert fresh.healthy and fresh.report["counts"] == {"publish.ok.article.new": 3}
    stale = health.check(tmp_path, max_age=60, now=1061.0)
    assert not stale.healthy and "stale" in stale.reason


def test_health_command_exit_codes(tmp_path, capsys):
    """`newsd health` exits 0 for a fresh file, 1 for none, and prints its verdict as JSON."""
    config = tmp_path / "newsd.toml"
    config.write_text("")
    args = ["health", "--config", str(config), "--state", str(tmp_path)]
    assert main(args) == 1
    assert json.loads(capsys.readouterr().out)["healthy"] is False
    health.write(tmp_path, started=0.0, counts={})
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["healthy"] is True
