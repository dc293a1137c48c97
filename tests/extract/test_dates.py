"""Pure: which dated claims are believable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.extract.dates import absurd_declaration, plausible

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)

CLAIMS = {
    "none": (None, True),
    "now": (NOW, True),
    "a day ahead (time zones, clock skew)": (NOW + timedelta(hours=23), True),
    "more than a day ahead": (NOW + timedelta(days=1, seconds=1), False),
    "year 2999": (datetime(2999, 1, 1, tzinfo=UTC), False),
    "1990-01-01": (datetime(1990, 1, 1, tzinfo=UTC), True),
    "1989-12-31": (datetime(1989, 12, 31, tzinfo=UTC), False),
    "year 1": (datetime(1, 1, 1, tzinfo=UTC), False),
}


@pytest.mark.parametrize(("value", "expected"), CLAIMS.values(), ids=CLAIMS.keys())
def test_plausible(value: datetime | None, expected: bool) -> None:
    """Dates in [1990-01-01, now + 1 day] are believable, others are not."""
    assert plausible(value, now=NOW) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-0001-11-30", True),
        ("-2000-01-01", True),
        (" −1-01-01", True),
        ("0000-00-00 00:00:00", True),
        ("2024-05-06", False),
        ("-05:00", False),
        (None, False),
    ],
)
def test_absurd_declaration(value: object, expected: bool) -> None:
    """A declared date whose year is negative or zero is absurd; a zone offset is not."""
    assert absurd_declaration(value) is expected
