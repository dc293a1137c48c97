"""The text fingerprint: computed anywhere, used by decide() only when it fits the article."""

from __future__ import annotations

import dataclasses
import pickle
import random
from collections.abc import Callable

import numpy as np

from daemon.dedup.deduper import Deduper
from daemon.dedup.fingerprint import FingerprintParams, fingerprint
from daemon.dedup.keys import content_hash
from daemon.dedup.shingles import shingle_ids
from daemon.records import Article, Verdict
from daemon.settings import DedupSettings
from daemon.state.sqlite import Store
from tests.dedup import variants as v
from tests.dedup.conftest import Clock

Make = Callable[..., Article]


def test_fingerprint_survives_pickling(bodies: list[str]) -> None:
    """What a worker process sends back is what it computed, field by field."""
    found = fingerprint(v.with_wire_credit(bodies[0]))
    back = pickle.loads(pickle.dumps(found))
    for name in (f.name for f in dataclasses.fields(found)):
        mine, theirs = getattr(found, name), getattr(back, name)
        assert np.array_equal(mine, theirs) if isinstance(mine, np.ndarray) else mine == theirs
    assert found.text_agency == "EFE"


def test_fingerprint_agrees_with_the_plain_definitions(bodies: list[str]) -> None:
    """Its content hash and shingles are the contract's and the shingle module's."""
    params = FingerprintParams(shingle_size=4)
    found = fingerprint(bodies[1], params)
    assert found.content_hash == content_hash(bodies[1])
    assert np.array_equal(found.shingles, shingle_ids(bodies[1], 4))
    assert found.params == params
    unique, inverse = np.unique(found.shingles, return_inverse=True)
    assert np.array_equal(found.distinct, unique)
    assert np.array_equal(found.inverse, inverse)


async def decide_all(deduper: Deduper, articles: list[Article]) -> list[Verdict]:
    verdicts = []
    for item in articles:
        verdicts.append(await deduper.decide(item))
        await deduper.commit(item, verdicts[-1])
    return verdicts


async def test_an_attached_fingerprint_gives_the_same_verdicts(
    store: Store, clock: Clock, bodies: list[str], article: Make
) -> None:
    """Bodies and their reposts decided with fingerprints attached: the verdicts of the same
    articles decided without, and the attached fingerprints were the ones used."""
    rng = random.Random(5)
    texts = [(b, f"https://a.example/{i}") for i, b in enumerate(bodies[:6])]
    texts += [(t, f"https://b.example/{i}/{n}") for i, b in enumerate(bodies[:6])
              for n, t in v.variants(b, rng).items()]  # fmt: skip
    plain = [article(t, u) for t, u in texts]
    printed = [dataclasses.replace(a, fingerprint=fingerprint(a.text)) for a in plain]
    first = Deduper(DedupSettings(), store, clock=clock)
    await first.start()
    expected = await decide_all(first, plain)
    other = Store(":memory:")
    await other.open()
    second = Deduper(DedupSettings(), other, clock=clock)
    await second.start()
    assert await decide_all(second, printed) == expected
    assert second.counts["fingerprint_attached"] == len(printed)
    assert first.counts["fingerprint_attached"] == 0
    await other.close()


async def test_a_fingerprint_of_other_text_or_settings_is_ignored(
    deduper: Deduper, bodies: list[str], article: Make
) -> None:
    """A fingerprint of another text (the article was changed after it was computed) or made
    with other parameters is not used: the verdict is the one the article's own text gives."""
    original = article(bodies[0], "https://a.example/1")
    await decide_all(deduper, [original])
    stale = dataclasses.replace(
        article(bodies[3], "https://b.example/2"), fingerprint=fingerprint(bodies[0])
    )
    other_params = dataclasses.replace(
        article(bodies[0], "https://c.example/3"),
        fingerprint=fingerprint(bodies[0], FingerprintParams(shingle_size=3)),
    )
    verdicts = await decide_all(deduper, [stale, other_params])
    assert [x.kind for x in verdicts] == ["new", "duplicate"]
    assert verdicts[0].content_hash == content_hash(bodies[3])
    assert deduper.counts["fingerprint_attached"] == 0
