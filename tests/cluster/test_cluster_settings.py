"""Cluster settings: off by default, switched on and named from the environment."""

from __future__ import annotations

from daemon.settings import load


def test_cluster_mode_is_off_by_default():
    """Without a `[cluster]` section newsd stays a single process with its SQLite state."""
    settings = load(None, environ={})
    assert settings.cluster.enabled is False
    assert settings.cluster.group == "newsd"
    assert settings.cluster.topic_prefix == "newsd._cluster"
    assert settings.cluster.feeds_partitions == 12


def test_cluster_mode_and_group_come_from_the_environment(monkeypatch):
    """NEWSD_CLUSTER__ENABLED and NEWSD_CLUSTER__GROUP switch cluster mode on and name the group."""
    monkeypatch.setenv("NEWSD_CLUSTER__ENABLED", "true")
    monkeypatch.setenv("NEWSD_CLUSTER__GROUP", "newsd-eu")
    settings = load(None)
    assert settings.cluster.enabled is True
    assert settings.cluster.group == "newsd-eu"


async def test_the_internal_topics_have_their_own_cheap_codec():
    """The internal producer (articles, dedup changelog, replay) compresses with
    `cluster.compression_type`, lz4 by default, not with the public topics' codec (gzip)."""
    from daemon.cluster.articles import producer

    default = load(None, environ={}, kafka={"bootstrap_servers": "127.0.0.1:9"})
    chosen = load(None, environ={}, kafka={"bootstrap_servers": "127.0.0.1:9"},
                  cluster={"compression_type": "zstd"})  # fmt: skip
    made = [producer(default), producer(chosen)]
    try:
        assert default.kafka.compression_type == "gzip"
        assert [p._compression_type for p in made] == ["lz4", "zstd"]
    finally:
        for one in made:
            await one.stop()
