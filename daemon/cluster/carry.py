"""Pure: a frozen dataclass of computed values (dedup's `Fingerprint`, the story stage's
`LeadTerms`) as JSON-ready values and back, generic over the dataclass's fields.

Encoding walks `dataclasses.fields`; decoding reads the field types (`typing.get_type_hints`),
so a field added, removed or retyped in the class needs no change here:

    numpy array        {"dtype": "<u4", "shape": [n], "b64": "<the raw bytes, base64>"}
    dataclass          {field: value, ...}   (nested ones too, e.g. `FingerprintParams`)
    tuple[X, ...]      a JSON list, back as a tuple
    str, int, float, bool, None   as they are

A value written by another version of the class (a field missing or unknown, an array of
another dtype, a value of another type) raises `ValueError`: the reader then drops it and
computes the value itself, as it does for a record that carries none.
"""

from __future__ import annotations

import base64
import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
_SCALARS = (str, int, float, bool)
_HINTS: dict[type, dict[str, Any]] = {}


def plain(record: Any, omit: tuple[str, ...] = ()) -> dict[str, Any]:
    """The dataclass `record` as a dict of JSON-ready values (see module), without `omit`."""
    return {
        f.name: _plain(getattr(record, f.name))
        for f in dataclasses.fields(record)
        if f.name not in omit
    }


def restore(cls: type[T], data: object, given: Mapping[str, Any] | None = None) -> T:
    """`cls` back from `plain(record, omit)`; `given` supplies the omitted fields' values.
    `ValueError` when `data` does not describe a `cls` of this version (see module)."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} is not a JSON object")
    hints, given = _hints(cls), given or {}
    missing = set(hints) - set(data) - set(given)
    unknown = set(data) - set(hints)
    if missing or unknown:
        raise ValueError(f"{cls.__name__} fields differ: missing {missing}, unknown {unknown}")
    values = {name: _restore(hints[name], value, name) for name, value in data.items()}
    return cls(**values, **given)


def _hints(cls: type) -> dict[str, Any]:
    """The init fields of dataclass `cls` and their types (resolved once per class)."""
    found = _HINTS.get(cls)
    if found is None:
        resolved = typing.get_type_hints(cls)
        found = {f.name: resolved[f.name] for f in dataclasses.fields(cls) if f.init}
        _HINTS[cls] = found
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        data = base64.b64encode(np.ascontiguousarray(value).tobytes()).decode("ascii")
        return {"dtype": value.dtype.str, "shape": list(value.shape), "b64": data}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def _restore(hint: Any, value: Any, name: str) -> Any:
    """`value` as type `hint` (`name` for the error)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return restore(hint, value)
    if origin is np.ndarray:
        return _array(value, _dtype(args), name)
    if origin is tuple:
        return _tuple(args, value, name)
    if origin in (typing.Union, types.UnionType):
        return _union(args, value, name)
    if hint is type(None) and value is None:
        return None
    if hint in _SCALARS and _is_scalar(hint, value):
        return float(value) if hint is float else value
    if hint is Any:
        return value
    raise ValueError(f"field {name!r}: {value!r} is not a {hint}")


def _is_scalar(hint: type, value: Any) -> bool:
    if hint is bool or isinstance(value, bool):
        return hint is bool and isinstance(value, bool)
    return isinstance(value, hint) or (hint is float and isinstance(value, int))


def _tuple(args: tuple[Any, ...], value: Any, name: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ValueError(f"field {name!r} is not a list")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_restore(args[0], item, name) for item in value)
    if len(args) != len(value):
        raise ValueError(f"field {name!r} has {len(value)} items, not {len(args)}")
    return tuple(_restore(arg, item, name) for arg, item in zip(args, value, strict=True))


def _union(args: tuple[Any, ...], value: Any, name: str) -> Any:
    for arg in args:
        try:
            return _restore(arg, value, name)
        except ValueError:
            continue
    raise ValueError(f"field {name!r}: {value!r} is none of {args}")


def _dtype(args: tuple[Any, ...]) -> np.dtype[Any] | None:
    """The dtype an `NDArray[X]` hint names (None: any)."""
    scalar = typing.get_args(args[1]) if len(args) == 2 else ()
    if not scalar or not isinstance(scalar[0], type) or not issubclass(scalar[0], np.generic):
        return None
    return np.dtype(scalar[0])


def _array(value: Any, expected: np.dtype[Any] | None, name: str) -> np.ndarray[Any, Any]:
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "b64"}:
        raise ValueError(f"field {name!r} is not an encoded array")
    dtype = np.dtype(value["dtype"])
    if expected is not None and dtype != expected:
        raise ValueError(f"field {name!r} has dtype {dtype}, not {expected}")
    raw = bytearray(base64.b64decode(value["b64"], validate=True))  # bytearray: writable
    return np.frombuffer(raw, dtype=dtype).reshape(value["shape"])
