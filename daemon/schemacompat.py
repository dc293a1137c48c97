"""Pure: is a new JSON Schema of an event compatible with the last released one?

Compatible means both ways, for consumers that validate:

- a consumer validating with the released schema accepts events made under the new one (new
  optional fields are fine because the schemas accept unknown properties), and
- a consumer validating with the new schema accepts events made under the released one (topic
  history, replays).

So every change but adding an optional property is incompatible:

    removed      a property of the released schema is gone
    retyped      its type, format, const or `$ref` target changed (`null` added or removed too)
    narrowed     an enum lost a value (old events fail the new schema)
    widened      an enum gained a value (new events fail the released schema): open-ended
                 vocabularies are plain strings for this reason
    required     a property became required, or stopped being required
    closed       an object no longer accepts unknown properties

An incompatible change needs a new major version (`schema_version`), published to new topics.
Hand-written because the available checkers are either the registries themselves or unkept
packages; the rules are the ones `docs/events.md` promises.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
_SAME = ("const", "format", "type")


def incompatibilities(released: Schema, current: Schema) -> list[str]:
    """Every incompatible change from `released` to `current`, as `<path>: <kind> ...` lines."""
    found: list[str] = []
    _compare(released, current, "$", (released, current), found)
    return found


def major_version(schema: Schema) -> int | None:
    """The `schema_version` const of an event schema (None when it has none)."""
    const = schema.get("properties", {}).get("schema_version", {}).get("const")
    return const if isinstance(const, int) else None


def _compare(
    old: Schema, new: Schema, path: str, roots: tuple[Schema, Schema], out: list[str]
) -> None:
    old_branches = _branches(old, roots[0])
    new_branches = _branches(new, roots[1])
    for key in old_branches.keys() - new_branches.keys():
        out.append(f"{path}: retyped (no longer {key})")
    for key in new_branches.keys() - old_branches.keys():
        out.append(f"{path}: retyped (now also {key})")
    for key in old_branches.keys() & new_branches.keys():
        _compare_branch(old_branches[key], new_branches[key], path, roots, out)


def _compare_branch(
    old: Schema, new: Schema, path: str, roots: tuple[Schema, Schema], out: list[str]
) -> None:
    for word in _SAME:
        if old.get(word) != new.get(word):
            out.append(f"{path}: retyped ({word} {old.get(word)!r} -> {new.get(word)!r})")
    _compare_enum(old, new, path, out)
    if "items" in old or "items" in new:
        _compare(old.get("items", {}), new.get("items", {}), f"{path}[]", roots, out)
    if "properties" in old or "properties" in new:
        _compare_object(old, new, path, roots, out)


def _compare_enum(old: Schema, new: Schema, path: str, out: list[str]) -> None:
    before, after = old.get("enum"), new.get("enum")
    if before is None and after is None:
        return
    if before is None or after is None:
        out.append(f"{path}: retyped (enum {before!r} -> {after!r})")
        return
    if lost := [v for v in before if v not in after]:
        out.append(f"{path}: narrowed (enum lost {lost!r})")
    if gained := [v for v in after if v not in before]:
        out.append(f"{path}: widened (enum gained {gained!r})")


def _compare_object(
    old: Schema, new: Schema, path: str, roots: tuple[Schema, Schema], out: list[str]
) -> None:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, schema in old_props.items():
        if name not in new_props:
            out.append(f"{path}.{name}: removed")
            continue
        _compare(schema, new_props[name], f"{path}.{name}", roots, out)
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(old_required ^ new_required):
        state = "now required" if name in new_required else "no longer required"
        out.append(f"{path}.{name}: required ({state})")
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        out.append(f"{path}: closed (unknown properties refused)")


def _branches(schema: Schema, root: Schema) -> dict[str, Schema]:
    """The alternatives of a schema (`anyOf`/`oneOf` members), keyed by what they accept."""
    schema = _resolve(schema, root)
    members = schema.get("anyOf") or schema.get("oneOf") or [schema]
    resolved = [_resolve(m, root) for m in members]
    return {_kind(m): m for m in resolved}


def _resolve(schema: Schema, root: Schema) -> Schema:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}


def _kind(schema: Schema) -> str:
    kind = schema.get("type")
    if kind is None and "properties" in schema:
        kind = "object"
    return str(kind) if kind is not None else "any"
