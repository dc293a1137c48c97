"""Optional registration of the event schemas with a schema registry, at start-up.

When `kafka.schema_registry.url` is set, the Kafka sink registers the JSON Schema of each topic's
events under the topic's value subject (`<topic>-value`, the registries' TopicNameStrategy) with
the Confluent Schema Registry REST API (also served by Karapace, Redpanda and Apicurio's ccompat
API), before it publishes anything:

    POST /compatibility/subjects/<subject>/versions/latest   the registry's own verdict first
    POST /subjects/<subject>/versions                        then register (same schema: same id)

A schema the registry finds incompatible with the subject's latest version is a start-up error
naming the subject and the registry's reasons (`SinkError("schema_incompatible")`); an
unreachable or failing registry is `SinkError("schema_registry")`.  Neither is retried: the
operator has to decide (a new major version goes to new topics, see docs/events.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import structlog
from pydantic import BaseModel

from daemon.errors import SinkError
from daemon.events import ArticleEvent, ErrorEvent, StoryEvent
from daemon.schemas import render
from daemon.settings import SchemaRegistrySettings
from daemon.sinks.base import Channel

log = structlog.get_logger(__name__)

_MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
_ARTICLE: tuple[type[BaseModel], str] = (ArticleEvent, "article-event.v1.json")
_ERROR: tuple[type[BaseModel], str] = (ErrorEvent, "error-event.v1.json")
_STORY: tuple[type[BaseModel], str] = (StoryEvent, "story-event.v1.json")
_SCHEMA_FILES = {
    "articles": _ARTICLE,
    "duplicates": _ARTICLE,
    "updates": _ARTICLE,
    "errors": _ERROR,
    "stories": _STORY,
}


def subject_for(topic: str) -> str:
    """The value subject of a topic (TopicNameStrategy)."""
    return f"{topic}-value"


def schema_text(channel: Channel) -> str:
    """The JSON Schema of a channel's events, exactly as checked in under `schemas/`."""
    model, name = _SCHEMA_FILES[channel]
    return render(model, name)


async def register_schemas(
    settings: SchemaRegistrySettings,
    topics: Mapping[Channel, str],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, int]:
    """Register every topic's schema; the schema id per subject.  Raises `SinkError`."""
    if not settings.url:
        return {}
    ids: dict[str, int] = {}
    headers = {"Accept": _MEDIA_TYPE, "Content-Type": _MEDIA_TYPE}
    async with httpx.AsyncClient(
        base_url=settings.url, timeout=settings.timeout, headers=headers, transport=transport
    ) as client:
        for channel, topic in topics.items():
            subject = subject_for(topic)
            payload = {"schemaType": "JSON", "schema": schema_text(channel)}
            await _check_compatible(client, subject, payload)
            ids[subject] = await _register(client, subject, payload)
            log.info("schema_registry.registered", subject=subject, schema_id=ids[subject])
    return ids


async def _check_compatible(client: httpx.AsyncClient, subject: str, payload: Any) -> None:
    url = f"/compatibility/subjects/{subject}/versions/latest"
    response = await _post(client, url, payload, params={"verbose": "true"})
    if response.status_code == 404:
        return  # a new subject: nothing to be compatible with
    body = _json(response, subject)
    if body.get("is_compatible") is False:
        reasons = "; ".join(str(m) for m in body.get("messages") or []) or "no reason given"
        raise SinkError(
            "schema_incompatible",
            f"subject {subject}: the registry rejects this newsd's schema as incompatible "
            f"with its latest version ({reasons})",
        )


async def _register(client: httpx.AsyncClient, subject: str, payload: Any) -> int:
    response = await _post(client, f"/subjects/{subject}/versions", payload)
    body = _json(response, subject)
    if response.status_code == 409:
        raise SinkError(
            "schema_incompatible",
            f"subject {subject}: the registry refused the schema as incompatible "
            f"({body.get('message', 'no reason given')})",
        )
    if not isinstance(body.get("id"), int):
        raise SinkError("schema_registry", f"subject {subject}: no schema id in {body!r}")
    return int(body["id"])


async def _post(
    client: httpx.AsyncClient, url: str, payload: Any, params: dict[str, str] | None = None
) -> httpx.Response:
    try:
        return await client.post(url, content=json.dumps(payload), params=params)
    except httpx.HTTPError as exc:
        raise SinkError("schema_registry", f"{client.base_url}: {exc!r}") from exc


def _json(response: httpx.Response, subject: str) -> dict[str, Any]:
    if response.status_code >= 400 and response.status_code not in (404, 409):
        raise SinkError(
            "schema_registry",
            f"subject {subject}: HTTP {response.status_code} {response.text[:500]}",
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise SinkError("schema_registry", f"subject {subject}: not JSON") from exc
    return body if isinstance(body, dict) else {}
