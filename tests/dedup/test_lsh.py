"""The key table: lookups see every level (dict, middle, main) and keep every slot."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.dedup.lsh import KeyTable

_ENTRIES = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 1000)), max_size=120)


@given(_ENTRIES, st.lists(st.integers(0, 35), max_size=10))
@settings(max_examples=150)
def test_lookups_match_a_plain_multimap(entries: list[tuple[int, int]], query: list[int]) -> None:
    """Spread over all levels (tiny dict limit), lookup and lookup_each find exactly the slots."""
    table = KeyTable(recent_limit=7, middle_share=0.5)
    expected: dict[int, list[int]] = {}
    for key, slot in entries:
        table.add([key], slot)
        expected.setdefault(key, []).append(slot)
    keys = np.array(query, np.uint64)
    each = table.lookup_each(keys)
    assert [sorted(s.tolist()) for s in each] == [sorted(expected.get(k, [])) for k in query]
    assert sorted(table.lookup(keys).tolist()) == sorted(
        s for k in query for s in expected.get(k, [])
    )
