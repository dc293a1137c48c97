"""Body choice and clean-up after trafilatura (daemon/extract/postfilter.py)."""

from __future__ import annotations

import pytest

from daemon.extract.postfilter import choose_body

P1 = "The council approved the new budget on Monday after a debate that lasted six hours."
P2 = "Opponents said the plan would raise local taxes for most households within two years."
P3 = "The mayor said the city would publish the full figures before the end of the month."
LEAD = "A divided council passes the budget after a marathon session, and the fight goes on."
ARTICLE_BODY = " ".join([P1, P2, P3] * 2)  # articleBody has no lead and no subheadings


def test_article_body_filter_keeps_lead_and_subheadings() -> None:
    """Lines articleBody lacks are dropped, except the lead (the description) and headings."""
    body = "\n".join([LEAD, P1, P2, "What happens next", P3, "Sign in to comment below now"])
    out = choose_body(body, None, ARTICLE_BODY, title="Budget passes", description=LEAD)
    assert out.split("\n") == [LEAD, P1, P2, "What happens next", P3]


@pytest.mark.parametrize(
    "first",
    [
        pytest.param("Budget passes after marathon session", id="exact"),
        pytest.param("Politics Budget passes after marathon session", id="kicker-glued"),
        pytest.param("Budget passes after a marathon session", id="spelling-variant"),
    ],
)
def test_repeated_headline_is_dropped(first: str) -> None:
    """The headline repeated at the top goes, also with a kicker glued on or small variants."""
    out = choose_body(
        "\n".join([first, P1, P2]), None, None, title="Budget passes after marathon session"
    )
    assert out.split("\n") == [P1, P2]


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(["With files from The Associated Press"], id="files-from"),
        pytest.param(["Additional reporting by Ann Lee; editing by Bo Chan"], id="reporting-by"),
        pytest.param(["Jo Smith contributed reporting from Paris."], id="contributed"),
        pytest.param(["(dpa)"], id="agency-mark"),
        pytest.param(["___", "Quelle: ntv.de"], id="rule-and-source"),
        pytest.param(["Sign up for our free daily newsletter to get the news first."], id="prompt"),
    ],
)
def test_tail_credits_and_prompts_are_dropped(tail: list[str]) -> None:
    """Credit and source lines and newsletter prompts after the last paragraph are dropped."""
    out = choose_body("\n".join([P1, P2, P3, *tail]), None, None)
    assert out.split("\n") == [P1, P2, P3]


def test_tail_trim_keeps_lists_and_the_body() -> None:
    """A body ending in a list keeps it; a body made only of credit lines keeps its first line."""
    items = ["- Two year warranty", "- Draws 300W in use"]
    assert choose_body("\n".join([P1, *items]), None, None).split("\n") == [P1, *items]
    credits = ["With files from Reuters", "(dpa)"]
    assert choose_body("\n".join(credits), None, None).split("\n") == credits[:1]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("Les også: Tone Damli røper detaljer om frieriet", id="no-read-also"),
        pytest.param("À lire aussi La natalité russe menacée d’effondrement", id="fr-no-colon"),
        pytest.param("- Zum Artikel: Tarifrunde im ÖPNV: Das wird verhandelt", id="de-list-link"),
        pytest.param("Читайте также: новости дня", id="ru-read-also"),
        pytest.param("Photo: AFP", id="photo-credit"),
        pytest.param("Фото: Дмитрий Азаров, Коммерсантъ", id="ru-photo-credit"),
        pytest.param("Fotos: NIKOLAI VON BISMARCK", id="de-photo-credits"),
    ],
)
def test_read_also_promos_and_photo_credits_are_dropped(line: str) -> None:
    """ "Read also" promos (many languages, colon or not) and photo credit lines are chrome."""
    assert choose_body("\n".join([P1, line, P2]), None, None).split("\n") == [P1, P2]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(
            "Photographers waited outside the court for most of the day.", id="photo-word"
        ),
        pytest.param(
            "Lesen Sie auch die Stellungnahme des Ministeriums, die am Montag veröffentlicht"
            " wurde und in der die Behörde erklärt, warum sie die Frist verlängert hat und was"
            " das für die Betroffenen bedeutet.",
            id="long-prose",
        ),
    ],
)
def test_prose_like_promos_are_kept(line: str) -> None:
    """Prose that only starts like a promo or a credit (or runs long) stays in the body."""
    assert choose_body("\n".join([P1, line, P2]), None, None).split("\n") == [P1, line, P2]


@pytest.mark.parametrize(
    ("line", "dropped"),
    [
        pytest.param("Von Nina Magoley", True, id="de-byline"),
        pytest.param("By HERB KEINON AND YAAKOV KATZ", True, id="en-byline-caps"),
        pytest.param("Par Jacques Munier", True, id="fr-byline"),
        pytest.param("Stand: 22.04.2024, 06:00 Uhr", True, id="de-date-stamp"),
        pytest.param("Published: Friday, January 18, 2008", True, id="en-date-stamp"),
        pytest.param("By then it was over.", False, id="prose-starting-with-by"),
        pytest.param("Von Anfang an", False, id="lower-case-phrase"),
    ],
)
def test_byline_and_date_stamp_lines(line: str, dropped: bool) -> None:
    """A byline or a date stamp on a line of its own is metadata, not body text."""
    out = choose_body("\n".join([P1, line, P2]), None, None).split("\n")
    assert out == ([P1, P2] if dropped else [P1, line, P2])
