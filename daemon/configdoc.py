"""Render `config/newsd.toml` from the settings models: every setting, its default, its meaning.

`python -m daemon.configdoc > config/newsd.toml` regenerates the file (then add the feeds back);
a test fails when a setting is missing from it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from daemon.settings import Settings

_SKIP_TOP = {"feeds"}


def render(model: type[BaseModel] = Settings) -> str:
    lines: list[str] = []
    scalars, sections = _split(model)
    for name, field in scalars:
        lines += _field_lines(name, field)
    for path, sub in sections:
        lines += _section(path, sub)
    return "\n".join(lines).lstrip("\n") + "\n"


def _split(model: type[BaseModel]) -> tuple[list[Any], list[Any]]:
    scalars, sections = [], []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sections.append((name, annotation))
        elif name not in _SKIP_TOP:
            scalars.append((name, field))
    return scalars, sections


def _section(path: str, model: type[BaseModel]) -> list[str]:
    doc = (model.__doc__ or "").strip().splitlines()
    lines = ["", f"[{path}]"] + ([f"# {doc[0]}"] if doc and model.__doc__ else [])
    scalars, sections = _split(model)
    for name, field in scalars:
        lines += _field_lines(name, field)
    for name, sub in sections:
        lines += _section(f"{path}.{name}", sub)
    return lines


def _field_lines(name: str, field: Any) -> list[str]:
    default = field.get_default(call_default_factory=True)
    comment = f"# {field.description}" if field.description else ""
    if default is None:
        return [comment, f"# {name} = (unset)"]
    return [comment, f"{name} = {_toml(default)}"]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, SecretStr):
        return '""'
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


if __name__ == "__main__":
    sys.stdout.write(render())
