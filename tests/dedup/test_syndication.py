"""Wire agency detection: credits count, mentions and photo credits do not."""

from __future__ import annotations

import pytest

from daemon.dedup.syndication import detect, from_authors

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
