"""The exception tree: what each `except` clause of the daemon catches."""

from __future__ import annotations

import pytest

from daemon import errors
from daemon.errors import FetchError, NewsdError, Skip


def test_skip_is_not_caught_by_except_newsd_error() -> None:
    """A Skip is a signal, not a failure: a handler of errors lets it pass untouched."""
    with pytest.raises(Skip) as caught:
        try:
            raise Skip("unchanged", "same text")
        except NewsdError:  # pragma: no cover - the promise is that this never runs
            pytest.fail("except NewsdError caught a Skip")
    assert (caught.value.reason, caught.value.detail) == ("unchanged", "same text")
    assert str(caught.value) == "unchanged: same text"


def test_every_error_class_but_skip_is_a_newsd_error() -> None:
    """Every exception class in `daemon.errors` is in the NewsdError tree, except Skip."""
    classes = [
        value
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, Exception) and not name.startswith("_")
    ]
    outside = {cls.__name__ for cls in classes if not issubclass(cls, NewsdError)}
    assert outside == {"Skip"}
    assert issubclass(FetchError, NewsdError)
