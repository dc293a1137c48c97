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


@given(
    st.lists(st.lists(st.integers(0, 40), max_size=12), max_size=40),
    st.lists(st.integers(0, 45), max_size=10),
)
@settings(max_examples=150)
def test_several_keys_per_slot_match_a_plain_multimap(
    batches: list[list[int]], query: list[int]
) -> None:
    """Many keys per document (repeats within one call and across calls, some taken back while
    still in the dict level): lookups find exactly the slots a plain multimap holds."""
    table = KeyTable(recent_limit=25, middle_share=0.5)
    expected: dict[int, list[int]] = {}
    for slot, keys in enumerate(batches):
        table.add(keys, slot)
        for key in keys:
            expected.setdefault(key, []).append(slot)
        if (
            slot % 3 == 2
            and table._recent_entries >= len(keys)
            and all(slot in table._recent.get(k, ()) for k in keys)
        ):
            table.discard_recent(keys, slot)
            for key in keys:
                expected[key].remove(slot)
    keys_array = np.array(query, np.uint64)
    each = table.lookup_each(keys_array)
    assert [sorted(s.tolist()) for s in each] == [sorted(expected.get(k, [])) for k in query]
    assert sorted(table.lookup(keys_array).tolist()) == sorted(
        s for k in query for s in expected.get(k, [])
    )
