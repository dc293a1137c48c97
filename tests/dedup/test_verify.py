"""The exact check of one pair (pure): the first-pair boilerplate rule and what it leaves alone."""

from __future__ import annotations

import random
import sqlite3

from daemon.dedup import index as idx
from daemon.dedup.keys import fold
from daemon.dedup.shingles import (
    distinct_inverse,
    folded_token_hashes,
    opening_tokens,
    shingle_ids,
)
from daemon.dedup.verify import Overlap, RepostRule, opening_before_block, overlap
from tests.dedup import variants as v


def measure(first: str, second: str) -> Overlap:
    openings = tuple(opening_tokens(folded_token_hashes(fold(t))) for t in (first, second))
    return overlap(shingle_ids(first), shingle_ids(second), None, openings)  # type: ignore[arg-type]


def test_two_items_ending_in_one_footer_are_not_a_repost(bodies: list[str]) -> None:
    """Own openings of 20 to 80 words before the same 60- to 200-word footer: never a repost,
    in either order, for footers cut from real text."""
    rng, rule = random.Random(5), RepostRule()
    for first, second, _ in v.footer_pairs(bodies, rng, 40):
        assert not rule.accepts(measure(first, second))
        assert not rule.accepts(measure(second, first))


def test_copies_with_a_new_opening_on_one_side_are_still_reposts(bodies: list[str]) -> None:
    """A re-headlined, chrome-wrapped or wire-credited copy has no own opening on the
    original's side: the rule leaves it a repost."""
    rule = RepostRule()
    for body in bodies[:10]:
        for copy in (v.with_headline(body), v.with_chrome(body), v.with_wire_credit(body)):
            assert rule.accepts(measure(body, copy))


def test_an_edited_first_sentence_keeps_its_words() -> None:
    """An opening that is an edit of the other's (most words kept) does not make two items."""
    lede_a = (
        "The city council voted on Monday evening to approve a new budget for schools, "
        "roads and parks after a long and heated debate with residents"
    )
    words = lede_a.split()
    lede_b = " ".join("also" if n % 3 == 1 else w for n, w in enumerate(words))
    rest = " ".join(f"Paragraph word{i} continues the same story here." for i in range(30))
    found = measure(f"{lede_a}. {rest}", f"{lede_b}. {rest}")
    assert found.own_opening >= RepostRule().min_own_opening
    assert found.opening_words >= 0.5 and RepostRule().accepts(found)


def test_opening_before_block_needs_one_shared_block() -> None:
    """An own opening counts only when what follows is one shared block (gaps of one word
    bridged); a second own stretch in the middle means an edited copy, not a footer."""
    import numpy as np

    one_block = np.array([False] * 20 + [True] * 50 + [False] * 3 + [True] * 10)
    two_blocks = np.array([False] * 20 + [True] * 30 + [False] * 12 + [True] * 30)
    assert opening_before_block(one_block) == 20
    assert opening_before_block(two_blocks) == 0


def test_a_store_from_before_openings_gains_the_column() -> None:
    """create_tables adds the `opening` column to a dedup table written by an older newsd."""
    conn = sqlite3.connect(":memory:")
    old = idx.SCHEMA.replace(",\n    opening    BLOB", "")
    for statement in old.split(";"):
        if statement.strip():
            conn.execute(statement)
    idx.create_tables(conn)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(dedup_docs)")}
    assert "opening" in columns


def test_the_inverse_map_gives_the_same_overlap(bodies: list[str]) -> None:
    """Passing the first text's set and inverse map (as decide() does) changes no figure."""
    rng = random.Random(5)
    for body in bodies[:20]:
        for text in [*v.variants(body, rng).values(), bodies[0]]:
            first, second = shingle_ids(body), shingle_ids(text)
            unique, inverse = distinct_inverse(first)
            assert overlap(first, second, unique, (None, None), inverse) == overlap(first, second)
            assert overlap(second, first) == overlap(first, second)
