"""Optional schema registration at start-up (Confluent Schema Registry API, local stand-in)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from daemon.errors import SinkError
from daemon.settings import SchemaRegistrySettings, TopicSettings
from daemon.sinks.kafka import topic_names
from daemon.sinks.registry import register_schemas, schema_text, subject_for
from tests.conftest import REPO
from tests.registry import SchemaRegistry
from tests.test_e2e import newsd, seeds_server, write_config  # noqa: F401 - a fixture

TOPICS = topic_names(TopicSettings(prefix="t."))


def retyped_title() -> str:
    """An earlier producer's article schema in which `title` was an integer."""
    schema = json.loads(schema_text("articles"))
    schema["properties"]["title"] = {"type": "integer"}
    return json.dumps(schema)


async def test_each_topic_schema_is_registered_under_its_value_subject() -> None:
    """Start-up registers the checked-in JSON Schema of every topic under `<topic>-value`;
    registering again reuses the ids and adds no version."""
    with SchemaRegistry() as registry:
        settings = SchemaRegistrySettings(url=registry.url)
        ids = await register_schemas(settings, TOPICS)
        again = await register_schemas(settings, TOPICS)
        subjects = dict(registry.subjects)
    assert set(ids) == {f"{topic}-value" for topic in TOPICS.values()} == set(subjects)
    assert again == ids
    articles = subjects[subject_for(TOPICS["articles"])]
    assert len(articles) == 1
    assert articles[0][1] == (REPO / "schemas" / "article-event.v1.json").read_text()
    errors = subjects[subject_for(TOPICS["errors"])]
    assert errors[0][1] == (REPO / "schemas" / "error-event.v1.json").read_text()


async def test_the_current_schema_registers_over_the_released_v1_0() -> None:
    """A subject holding the released v1.0 schema accepts v1.1 as a new, compatible version."""
    released = (REPO / "schemas" / "released" / "article-event.v1.0.json").read_text()
    with SchemaRegistry() as registry:
        subject = subject_for(TOPICS["articles"])
        registry.preload(subject, released)
        await register_schemas(SchemaRegistrySettings(url=registry.url), TOPICS)
        versions = registry.subjects[subject]
    assert [schema for _, schema in versions] == [released, schema_text("articles")]


async def test_an_incompatible_registered_schema_is_a_clear_start_up_error() -> None:
    """When the subject's latest schema is incompatible, registration fails naming the subject
    and the registry's reasons, and registers nothing under it."""
    with SchemaRegistry() as registry:
        subject = subject_for(TOPICS["articles"])
        registry.preload(subject, retyped_title())
        with pytest.raises(SinkError) as caught:
            await register_schemas(SchemaRegistrySettings(url=registry.url), TOPICS)
        versions = registry.subjects[subject]
    assert caught.value.reason == "schema_incompatible"
    assert subject in str(caught.value) and "title" in str(caught.value)
    assert len(versions) == 1


async def test_an_unreachable_registry_is_a_sink_error() -> None:
    """A registry that does not answer is `SinkError("schema_registry")`, not a traceback."""
    with SchemaRegistry() as registry:
        url = registry.url
    with pytest.raises(SinkError) as caught:
        await register_schemas(SchemaRegistrySettings(url=url, timeout=2), TOPICS)
    assert caught.value.reason == "schema_registry"


def run_once(config: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return newsd("run", "--once", "--config", str(config), "--state", str(state))


def test_run_registers_at_start_up_and_refuses_an_incompatible_subject(
    tmp_path,
    kafka_settings,
    seeds_server,  # noqa: F811 - the fixture
):
    """`newsd run --once` with a registry configured registers the four subjects before
    publishing; against a registry holding an incompatible schema it exits 1 at start-up with a
    message naming the subject."""
    config = write_config(tmp_path, kafka_settings, seeds_server.url("/feed.xml"))
    topics = topic_names(kafka_settings.kafka.topics)
    with SchemaRegistry() as bad, SchemaRegistry() as good:
        subject = subject_for(topics["articles"])
        bad.preload(subject, retyped_title())
        for registry, name in ((bad, "bad"), (good, "good")):
            path = tmp_path / f"{name}.toml"
            path.write_text(
                config.read_text() + f'\n[kafka.schema_registry]\nurl = "{registry.url}"\n'
            )
        failed = newsd(
            "run", "--once", "--config", str(tmp_path / "bad.toml"), "--state", str(tmp_path / "s1")
        )
        ran = newsd(
            "run",
            "--once",
            "--config",
            str(tmp_path / "good.toml"),
            "--state",
            str(tmp_path / "s2"),
        )
        registered = set(good.subjects)
    assert failed.returncode == 1
    assert "schema_incompatible" in failed.stderr and subject in failed.stderr
    assert "Traceback" not in failed.stderr
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert registered == {subject_for(t) for t in topics.values()}
