"""Settings: sources and their priority, key-path errors, the documented config file."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from daemon.cli import main
from daemon.errors import ConfigError
from daemon.settings import Settings, load

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsd.toml"
    path.write_text(text)
    return path


def test_environment_overrides_the_file_with_nested_names(tmp_path, monkeypatch):
    """NEWSD_KAFKA__BOOTSTRAP_SERVERS beats the file; the file beats the defaults."""
    path = write(tmp_path, '[kafka]\nbootstrap_servers = "file:9092"\nlinger_ms = 7\n')
    monkeypatch.setenv("NEWSD_KAFKA__BOOTSTRAP_SERVERS", "env:9092")
    monkeypatch.setenv("NEWSD_KAFKA__ENABLE_IDEMPOTENCE", "false")
    settings = load(path)
    assert settings.kafka.bootstrap_servers == "env:9092"
    assert settings.kafka.enable_idempotence is False
    assert settings.kafka.linger_ms == 7
    assert settings.poll.min_interval == 300.0


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[fetch.timeout]\nread = -1\n", "fetch.timeout.read"),
        ('[kafka]\ncompression_type = "brotli"\n', "kafka.compression_type"),
        ("[poll]\nmin_intervall = 5\n", "poll.min_intervall"),
        ('[[feeds]]\nurl = "ftp://example.com/feed"\n', "feeds.0.url"),
        ('[[feeds]]\nurl = "https://e.com/f"\nid = "news captures #2"\n', "feeds.0.id"),
        ('[[feeds]]\nurl = "https://e.com/f"\ncountry = "gb"\n', "feeds.0.country"),
    ],
)
def test_a_bad_value_names_its_key_path(tmp_path, toml, key):
    """The first invalid setting is reported by its dotted key path."""
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, toml))
    assert caught.value.reason == key


def test_a_config_with_the_removed_acks_setting_still_loads_with_a_warning(tmp_path):
    """`kafka.acks = "all"` (in every config written before it was removed) loads, warned."""
    path = write(tmp_path, '[kafka]\nacks = "all"\nlinger_ms = 7\n')
    with pytest.warns(FutureWarning, match=r"kafka\.acks is no longer a setting"):
        settings = load(path)
    assert settings.kafka.linger_ms == 7
    assert "acks" not in settings.kafka.model_dump()


def test_a_config_asking_for_other_acks_is_refused(tmp_path):
    """`kafka.acks = "1"` asks for weaker durability than newsd gives: a clear error, exit 2."""
    with pytest.raises(ConfigError, match="removed: newsd always produces with acks=all") as caught:
        load(write(tmp_path, '[kafka]\nacks = "1"\n'))
    assert caught.value.reason == "kafka.acks"


def test_bad_config_exits_with_code_2(tmp_path, capsys):
    """`newsd config` with a bad file exits 2 and names the key on stderr."""
    path = write(tmp_path, "[dedup]\nwindow_days = 0\n")
    assert main(["config", "--config", str(path)]) == 2
    assert "dedup.window_days" in capsys.readouterr().err


def test_config_command_prints_resolved_settings_with_secrets_masked(tmp_path, capsys, monkeypatch):
    """Secrets never appear in `newsd config` output."""
    monkeypatch.setenv("NEWSD_KAFKA__SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("NEWSD_KAFKA__SASL_OAUTH_CLIENT_SECRET", "hunter2")
    monkeypatch.setenv("NEWSD_FETCH__PROXY", "http://me:hunter2@proxy.internal:3128")
    path = write(tmp_path, '[kafka]\nbootstrap_servers = "k:9092"\n')
    assert main(["config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out
    resolved = json.loads(out)
    assert resolved["kafka"]["bootstrap_servers"] == "k:9092"
    assert resolved["kafka"]["sasl_password"] == "**********"
    assert resolved["fetch"]["proxy"] == "http://****@proxy.internal:3128"


def _leaf_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _leaf_keys(annotation, f"{prefix}{name}.")
        elif name != "feeds":
            keys.add(prefix + name)
    return keys


def _documented_keys(data: dict[str, Any], text: str, prefix: str = "") -> set[str]:
    keys = set()
    for name, value in data.items():
        if isinstance(value, dict):
            keys |= _documented_keys(value, text, f"{prefix}{name}.")
        elif name != "feeds":
            keys.add(prefix + name)
    return keys


def test_config_file_documents_every_setting_with_its_default():
    """config/newsd.toml names every setting (unset ones as comments) and loads cleanly."""
    text = (REPO / "config" / "newsd.toml").read_text()
    data = tomllib.loads(text)
    documented = _documented_keys(data, text)
    commented = {
        line.split("#", 1)[1].split("=")[0].strip()
        for line in text.splitlines()
        if "= (unset)" in line
    }
    missing = {
        k
        for k in _leaf_keys(Settings)
        if k not in documented and k.rsplit(".", 1)[-1] not in commented
    }
    assert not missing
    defaults = Settings()
    loaded = load(REPO / "config" / "newsd.toml")
    assert loaded.model_dump(exclude={"feeds"}) == defaults.model_dump(exclude={"feeds"})
    assert len(loaded.feeds) >= 3
