"""Pure: which dated claims are believable.

A publication or modification date more than a day after the page was fetched, or before 1990
(before there were news sites to fetch), is a template bug or a placeholder (`2999-01-01`,
`0000-00-00`, a negative year), not a fact: the field becomes null and the drop is counted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
# A declared date with a negative or zero year: date parsers drop the sign and read it as real.
_SIGNED_OR_ZERO_YEAR = re.compile(r"^\s*(?:[-−]\d{1,6}-\d|\+?0{4}\b)")


def plausible(value: datetime | None, *, now: datetime) -> bool:
    """True when `value` is None or lies in [1990-01-01, now + 1 day]."""
    return value is None or EARLIEST <= value <= now + FUTURE_SLACK


def absurd_declaration(value: object) -> bool:
    """A declared date string whose year is negative or zero (e.g. "-0001-11-30")."""
    return isinstance(value, str) and bool(_SIGNED_OR_ZERO_YEAR.match(value))
