"""Generate the JSON Schemas of the wire contract into `schemas/` (`make schemas`).

The checked-in files are the contract downstream teams code against; a test fails when they
drift from the models in `daemon/events.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from daemon.events import (
    ARTICLE_SCHEMA_ID,
    ERROR_SCHEMA_ID,
    STORY_SCHEMA_ID,
    ArticleEvent,
    ErrorEvent,
    StoryEvent,
)

SCHEMAS: dict[str, type[BaseModel]] = {
    "article-event.v1.json": ArticleEvent,
    "error-event.v1.json": ErrorEvent,
    "story-event.v1.json": StoryEvent,
}
_IDS = {ArticleEvent: ARTICLE_SCHEMA_ID, ErrorEvent: ERROR_SCHEMA_ID, StoryEvent: STORY_SCHEMA_ID}


def render(model: type[BaseModel], name: str) -> str:
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _IDS[model],
        **model.model_json_schema(mode="serialization"),
    }
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = directory / name
        path.write_text(render(model, name), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")):
        print(path)
