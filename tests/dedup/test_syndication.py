"""Wire agency detection: credits count, mentions and photo credits do not."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.dedup.syndication import (
    _ANY,
    _PHOTO,
    _without_photo_credits,
    detect,
    from_authors,
    may_credit,
)

CREDITED = {
    "ap_dateline": ("WASHINGTON (AP) — The president said on Monday", "AP"),
    "efe_dateline": ("MADRID, 12 may (EFE).- El gobierno aprobó", "EFE"),
    "tass_dateline": ("MOSCOW, September 10. /TASS/. Russia said", "TASS"),
    "xinhua_dateline": ("BEIJING, Sept. 10 (Xinhua) -- China will", "Xinhua"),
    "reuters_dateline": ("LONDON (Reuters) - Shares fell", "Reuters"),
    "pti_dateline": ("New Delhi, Sep 10 (PTI) The government", "PTI"),
    "ansa_dateline": ("(ANSA) - ROME, Sept 10 - Italy's", "ANSA"),
    "ap_copyright": ("Body text.\n\n© 2024 The Associated Press. All rights reserved.", "AP"),
    "reuters_credit": ("Body.\n(Reporting by Jane Doe; Editing by John Roe)", "Reuters"),
    "xinhua_source": ("Body text\n\nSource: Xinhua", "Xinhua"),
    "afp_sign_off": ("Body.\n— AFP", "AFP"),
}
NOT_CREDITED = {
    "mention": "The minister told Reuters on Monday that talks had stalled.\nHe spoke to AFP too.",
    "reported": "Officials denied it.\nAs Reuters reported last week, the deal is off.",
    "ap_photo": "Some text about the summit.\n(AP Photo/Evan Vucci)",
    "photo_label": "Body.\nPhoto: Reuters/John Smith",
    "getty": "Body\nAFP via Getty Images",
    "lowercase_ani": "Anita said the plan is ani-mated and apt.",
}


@pytest.mark.parametrize(("text", "agency"), CREDITED.values(), ids=CREDITED.keys())
def test_credits_are_detected(text: str, agency: str) -> None:
    """A dateline or a credit line names the agency."""
    assert detect(text) == agency


@pytest.mark.parametrize("text", NOT_CREDITED.values(), ids=NOT_CREDITED.keys())
def test_mentions_and_photo_credits_are_not_syndication(text: str) -> None:
    """Running-text mentions and photo credits are not text syndication."""
    assert detect(text) is None


@pytest.mark.parametrize(
    ("authors", "agency"),
    [
        (["Reuters"], "Reuters"),
        (["Julia Shapero, Associated Press"], "AP"),
        (["By AP"], "AP"),
        (["Jane Doe | Reuters"], "Reuters"),
        (["Europa Press"], "Europa Press"),
        (["Jane Doe for AFP"], "AFP"),
        (["Apple Pie", "Staff writer"], None),
    ],
)
def test_bylines(authors: list[str], agency: str | None) -> None:
    """Bylines and feed authors credit an agency only when they name one."""
    assert from_authors(authors) == agency


def test_explicit_credit_wins_and_is_normalized() -> None:
    """An extraction-time credit is normalized to the canonical name and wins over the text."""
    assert detect("LONDON (Reuters) - x", credited="Associated Press") == "AP"


_ALIAS = st.from_regex(re.compile(_ANY), fullmatch=True)
_AROUND = st.text(max_size=40)


@given(_AROUND, _ALIAS, _AROUND)
@settings(max_examples=300)
def test_prefilter_never_hides_an_alias(before: str, alias: str, after: str) -> None:
    """Any line holding an agency alias passes `may_credit`, whatever surrounds it."""
    assert may_credit(before + alias + after)


@pytest.mark.parametrize(
    "line", ["REUTER\u017f", "\u0131nterfax", "\u212ayodo News", "X\u0130NHUA"]
)
def test_prefilter_knows_non_ascii_case_folding(line: str) -> None:
    """Letters `re` folds to ASCII under (?i) (long s, dotless i, Kelvin sign) pass the test."""
    assert re.search(_ANY, line) and may_credit(line)


@given(_AROUND, st.sampled_from(["Photo", "FOTO", "V\u0131DEO", "p\u0130cture", "/", "via"]))
@settings(max_examples=200)
def test_photo_credits_are_removed_with_or_without_prefilter(line: str, word: str) -> None:
    """Skipping the photo pattern on lines without its hints changes no detection."""
    for text in (f"AP {word} {line}", f"{line} (AP) {word}"):
        head = text.strip()[:160]
        assert _without_photo_credits(head) == _PHOTO.sub(" ", head).strip()
