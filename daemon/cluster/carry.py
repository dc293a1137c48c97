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
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
_SCALARS = (str, int, float, bool)


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
    readers, given = _readers(cls), given or {}
    if data.keys() | given.keys() != readers.keys() or data.keys() & given.keys():
        missing = readers.keys() - data.keys() - given.keys()
        unknown = data.keys() - readers.keys()
        raise ValueError(f"{cls.__name__} fields differ: missing {missing}, unknown {unknown}")
    values = {name: readers[name](value, name) for name, value in data.items()}
    return cls(**values, **given)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        data = base64.b64encode(np.ascontiguousarray(value).tobytes()).decode("ascii")
        return {"dtype": value.dtype.str, "shape": list(value.shape), "b64": data}
    if isinstance(value, np.generic):
        return value.item()  # a numpy scalar as the Python number it holds
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(value)
    if isinstance(value, tuple | list):
        if all(item is None or isinstance(item, _SCALARS) for item in value):
            return value  # orjson writes a tuple of scalars as a list
        return [_plain(item) for item in value]
    return value


# -- reading: one reader per field type, built once ----------------------------------------

_Reader = Callable[[Any, str], Any]  # (JSON value, field name for the error) -> typed value
_READERS: dict[type, dict[str, _Reader]] = {}


def _readers(cls: type) -> dict[str, _Reader]:
    """A reader for each init field of dataclass `cls`, by name (built once per class)."""
    found = _READERS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = {f.name: _reader(hints[f.name]) for f in dataclasses.fields(cls) if f.init}
        _READERS[cls] = found
    return found


def _reader(hint: Any) -> _Reader:
    """The function that turns a JSON value into a value of type `hint`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return lambda value, name: restore(hint, value)
    if origin is np.ndarray:
        return functools.partial(_array, _dtype(args))
    if origin is tuple:
        return _tuple_reader(args)
    if origin in (typing.Union, types.UnionType):
        return functools.partial(_union, [_reader(arg) for arg in args])
    if hint is type(None) or hint in _SCALARS:
        return functools.partial(_scalar, hint)
    if hint is Any:
        return lambda value, name: value
    raise TypeError(f"no reader for field type {hint}")


def _scalar(hint: type, value: Any, name: str) -> Any:
    if type(value) is hint or (hint is type(None) and value is None):
        return value
    if hint is float and type(value) is int:
        return float(value)
    raise ValueError(f"field {name!r}: {value!r} is not a {hint.__name__}")


def _tuple_reader(args: tuple[Any, ...]) -> _Reader:
    if len(args) == 2 and args[1] is Ellipsis:
        if args[0] in _SCALARS and args[0] is not float:  # the common case, checked at once
            return functools.partial(_scalars, args[0])
        item = _reader(args[0])
        return lambda value, name: tuple(item(v, name) for v in _list(value, name))
    items = [_reader(arg) for arg in args]

    def fixed(value: Any, name: str) -> tuple[Any, ...]:
        if len(_list(value, name)) != len(items):
            raise ValueError(f"field {name!r} has {len(value)} items, not {len(items)}")
        return tuple(read(v, name) for read, v in zip(items, value, strict=True))

    return fixed


def _scalars(kind: type, value: Any, name: str) -> tuple[Any, ...]:
    if not all(type(item) is kind for item in _list(value, name)):
        raise ValueError(f"field {name!r} is not a list of {kind.__name__}")
    return tuple(value)


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"field {name!r} is not a list")
    return value


def _union(readers: list[_Reader], value: Any, name: str) -> Any:
    for read in readers:
        try:
            return read(value, name)
        except ValueError:
            continue
    raise ValueError(f"field {name!r}: {value!r} is of none of its types")


def _dtype(args: tuple[Any, ...]) -> np.dtype[Any] | None:
    """The dtype an `NDArray[X]` hint names (None: any)."""
    scalar = typing.get_args(args[1]) if len(args) == 2 else ()
    if not scalar or not isinstance(scalar[0], type) or not issubclass(scalar[0], np.generic):
        return None
    return np.dtype(scalar[0])


def _array(expected: np.dtype[Any] | None, value: Any, name: str) -> np.ndarray[Any, Any]:
    if not isinstance(value, dict) or value.keys() != {"dtype", "shape", "b64"}:
        raise ValueError(f"field {name!r} is not an encoded array")
    dtype = np.dtype(value["dtype"])
    if expected is not None and dtype != expected:
        raise ValueError(f"field {name!r} has dtype {dtype}, not {expected}")
    raw = bytearray(base64.b64decode(value["b64"], validate=True))  # bytearray: writable
    return np.frombuffer(raw, dtype=dtype).reshape(value["shape"])
