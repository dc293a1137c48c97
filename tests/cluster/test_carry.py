"""What the extraction worker computed travels on the internal articles topic: dedup's
`Fingerprint` and the story stage's `LeadTerms`, encoded generically over their fields."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest

from daemon.cluster import carry, changelog
from daemon.cluster.articlecodec import Carried, decode, encode
from daemon.dedup.fingerprint import Fingerprint, FingerprintParams, fingerprint
from daemon.extract.result import paragraphs
from daemon.records import Article, ArticleFields, FeedEntry, Origin
from daemon.stories.terms import LeadTerms, lead_terms
from tests.conftest import SEEDS


def seed_text() -> str:
    return paragraphs(sorted(SEEDS.glob("*.txt"))[0].read_text())


def computed_article(text: str) -> Article:
    """An article with what the extraction worker attaches (fingerprint, lead terms)."""
    entry = FeedEntry(origin=Origin("feed", "site-a"), url="http://a.test/1")
    return Article(
        entry=entry,
        url=entry.url,
        canonical_url=entry.url,
        text=text,
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        extraction="ok",
        fields=ArticleFields(language="en"),
        fingerprint=fingerprint(text, FingerprintParams(num_perm=128, bands=16)),
        lead_terms=lead_terms(text, "en"),
    )


def assert_same_fields(got: Any, want: Any) -> None:
    """Every dataclass field equal; arrays equal element by element and of the same dtype."""
    assert type(got) is type(want)
    for field in dataclasses.fields(want):
        a, b = getattr(got, field.name), getattr(want, field.name)
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray), field.name
            assert a.dtype == b.dtype and a.shape == b.shape, field.name
            assert np.array_equal(a, b), field.name
        elif dataclasses.is_dataclass(b):
            assert_same_fields(a, b)
        else:
            assert type(a) is type(b) and a == b, field.name


def carried(raw: bytes) -> Carried:
    found = decode(raw)
    assert isinstance(found, Carried)
    return found


def test_the_fingerprint_and_lead_terms_round_trip_field_by_field() -> None:
    """Every field of both comes back equal, arrays with their dtype and shape, tuples as
    tuples, the nested parameters as their dataclass; nothing is dropped."""
    article = computed_article(seed_text())
    assert article.fingerprint is not None and article.lead_terms is not None
    back = carried(encode(article))
    assert back.dropped == ()
    assert_same_fields(back.article.fingerprint, article.fingerprint)
    assert_same_fields(back.article.lead_terms, article.lead_terms)


def test_decoded_arrays_are_writable_copies() -> None:
    """A decoded array owns writable memory (numpy code may sort or update it in place)."""
    back = carried(encode(computed_article(seed_text())))
    assert back.article.fingerprint is not None
    assert back.article.fingerprint.signature.flags.writeable


def test_the_fingerprint_text_is_not_sent_twice() -> None:
    """The fingerprint describes the article's own text: the record holds that text once."""
    text = seed_text()
    raw = encode(computed_article(text))
    assert raw.count(orjson.dumps(text)[1:-1][:200]) == 1


def test_a_fingerprint_of_another_text_keeps_its_text() -> None:
    """A fingerprint of another text travels with that text, so the Deduper sees the
    mismatch and computes its own."""
    article = computed_article(seed_text())
    other = dataclasses.replace(article, text=article.text + "\n\nA new last line.")
    back = carried(encode(other)).article
    assert back.fingerprint is not None and back.fingerprint.text == article.text


def test_a_record_without_them_decodes_as_before() -> None:
    """A record from an instance that does not carry them (the keys absent) decodes, with
    neither attached: the owner computes both, as before."""
    body = orjson.loads(encode(computed_article(seed_text())))
    del body["fingerprint"], body["lead_terms"]
    back = carried(orjson.dumps(body))
    assert back.article.fingerprint is None and back.article.lead_terms is None
    assert back.dropped == ()


@pytest.mark.parametrize(
    ("part", "change"),
    [
        ("fingerprint", lambda fp: fp | {"added_by_a_newer_version": 1}),
        ("fingerprint", lambda fp: {k: v for k, v in fp.items() if k != "signature"}),
        ("fingerprint", lambda fp: fp | {"signature": fp["signature"] | {"dtype": "<u8"}}),
        ("fingerprint", lambda fp: fp | {"signature": fp["signature"] | {"b64": "AAA"}}),
        ("fingerprint", lambda fp: fp | {"n_tokens": "many"}),
        ("fingerprint", lambda fp: fp | {"params": {"shingle_size": 5}}),
        ("lead_terms", lambda lt: lt | {"counts": "3"}),
        ("lead_terms", lambda lt: [1, 2]),
    ],
    ids=[
        "unknown-field",
        "missing-field",
        "other-dtype",
        "bad-bytes",
        "wrong-type",
        "nested-missing",
        "not-a-list",
        "not-an-object",
    ],
)
def test_one_written_by_another_version_is_dropped_not_misread(part: str, change: Any) -> None:
    """A carried part this version cannot read exactly is left off the article and named in
    `dropped` (the owner counts it and computes it); the article itself still decodes."""
    body = orjson.loads(encode(computed_article(seed_text())))
    body[part] = change(body[part])
    back = carried(orjson.dumps(body))
    assert back.dropped == (part,)
    assert getattr(back.article, part) is None
    other = "lead_terms" if part == "fingerprint" else "fingerprint"
    assert getattr(back.article, other) is not None


@dataclasses.dataclass(frozen=True, slots=True)
class Inner:
    """A nested dataclass."""

    size: int
    ratio: float


@dataclasses.dataclass(frozen=True, slots=True)
class Made:
    """A dataclass the codec was never written for."""

    matrix: np.ndarray[Any, np.dtype[np.int16]]
    names: tuple[str, ...]
    pair: tuple[int, str]
    maybe: str | None
    inner: Inner


def test_restore_follows_the_dataclass_fields_it_is_given() -> None:
    """The codec knows no field names: a dataclass it has never seen, with arrays, tuples,
    optional and nested fields, round-trips too."""

    made = Made(np.arange(6, dtype=np.int16).reshape(2, 3), ("a", "b"), (1, "x"), None,
                Inner(3, 0.5))  # fmt: skip
    back = carry.restore(Made, orjson.loads(orjson.dumps(carry.plain(made))))
    assert_same_fields(back, made)


def test_lead_terms_of_no_language_round_trip() -> None:
    """`language` None and empty tuples come back as they were."""
    lead = LeadTerms(None, (), (), ())
    assert carry.restore(LeadTerms, orjson.loads(orjson.dumps(carry.plain(lead)))) == lead


def test_a_fingerprint_of_an_empty_text_round_trips() -> None:
    """Empty arrays keep their dtype."""
    empty = fingerprint("")
    back = carry.restore(Fingerprint, orjson.loads(orjson.dumps(carry.plain(empty))))
    assert_same_fields(back, empty)


def test_the_changelog_embeds_the_record_as_received_with_its_carried_parts() -> None:
    """The owner's changelog record holds the article record byte for byte as it came off the
    articles topic, and a rebuild reads the carried fingerprint and lead terms back from it."""
    article = computed_article(seed_text())
    raw = encode(article)
    key, value = changelog.doc_record(article, "new", "e1", 12.5, raw)
    assert raw in value
    entry = changelog.read(key, value)
    assert isinstance(entry, changelog.DocEntry) and entry.decided_at == 12.5
    assert entry.article == article
    assert_same_fields(entry.article.fingerprint, article.fingerprint)
    assert_same_fields(entry.article.lead_terms, article.lead_terms)


def test_a_carried_part_json_cannot_hold_is_left_out_not_fatal() -> None:
    """A field value the JSON encoder refuses (a new field of a type the codec does not know)
    never stops the article: it travels without the carried parts, which the owner computes."""
    article = computed_article(seed_text())
    assert article.fingerprint is not None
    odd = dataclasses.replace(article.fingerprint, text_agency=object())  # type: ignore[arg-type]
    back = carried(encode(dataclasses.replace(article, fingerprint=odd)))
    assert back.article.fingerprint is None and back.article.lead_terms is None
    assert back.article == article


def test_numpy_scalars_are_written_as_numbers() -> None:
    """A numpy scalar in a number field (`np.int64(3)`) is written as the number it holds."""
    made = Inner(np.int64(3), np.float32(0.5))  # type: ignore[arg-type]
    back = carry.restore(Inner, orjson.loads(orjson.dumps(carry.plain(made))))
    assert back == Inner(3, 0.5) and type(back.size) is int
