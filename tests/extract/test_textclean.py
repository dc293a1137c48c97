"""The plain-text capture cleaner: seed goldens, line rules on held-out text, invariants."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.extract.credits import BYLINE_RE
from daemon.extract.textclean import chrome_rule, clean_capture, is_chrome_line

GOLDEN = Path(__file__).parent / "golden" / "seeds"
SEEDS = Path(__file__).parents[2] / "seeds"
SEED_NAMES = sorted(p.stem for p in SEEDS.glob("*.txt"))


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_matches_reviewed_golden(name: str) -> None:
    """Each seed yields exactly the reviewed title, body paragraphs and metadata."""
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    got = clean_capture((SEEDS / f"{name}.txt").read_text())
    assert got.title == expected["title"]
    assert list(got.paragraphs) == expected["paragraphs"]
    assert got.summary == expected["summary"]
    assert list(got.authors) == expected["authors"]
    assert got.syndication == expected["syndication"]
    assert got.site_name == expected["site_name"]
    published = got.published_at.isoformat() if got.published_at else None
    assert published == expected["published_at"]


def test_seed_goldens_cover_every_seed() -> None:
    """Every seed has a golden file (a new seed must be reviewed before it is trusted)."""
    assert SEED_NAMES and all((GOLDEN / f"{n}.json").exists() for n in SEED_NAMES)


def test_byline_and_eastern_time_become_metadata() -> None:
    """A byline with a US date and 'ET' gives the author and an America/New_York time."""
    got = clean_capture((SEEDS / "003_7083f970c6a411da.txt").read_text())
    assert got.authors == ("Julia Shapero",)
    assert got.published_at == datetime(2022, 9, 10, 12, 9, tzinfo=ZoneInfo("America/New_York"))
    assert got.syndication is None  # an "(AP Photo/...)" credit is the photo's, not the text's


def test_zone_less_dateline_is_read_as_utc() -> None:
    """'7 Apr, 2022 07:02' carries no zone: it is documented as UTC."""
    got = clean_capture((SEEDS / "001_6bf08f6049ee2646.txt").read_text())
    assert got.published_at == datetime(2022, 4, 7, 7, 2, tzinfo=UTC)


HELD_OUT = """\
Jump to main navigation
Home › World › Europe
Storm floods coastal towns as rivers burst their banks
By Maria Lopez and Tom Berg, Reuters
March 3, 2024 9:15 AM GMT
Residents were evacuated from low-lying streets overnight as water levels rose faster than forecast.
Related: Ten pictures of the storm
Emergency services said more than 300 homes had been affected across the region by Sunday morning.
"We have never seen the river this high," said a shopkeeper who has lived in the town for years.
Photo: Flooded street in the town centre (Reuters/John Doe)
Officials expect the water to recede by Tuesday, although more rain is forecast this week.
Share this article
Most Read
Government unveils new budget plan
Football club sacks manager after defeat
Cookie settings
We use cookies to improve your experience. By continuing you agree to our privacy policy.
Copyright 2024 Example News Ltd. All rights reserved.
"""


def test_held_out_capture_is_cleaned_by_general_rules() -> None:
    """A capture unlike any seed: body kept, chrome gone, byline/date/agency become metadata."""
    got = clean_capture(HELD_OUT)
    assert got.title == "Storm floods coastal towns as rivers burst their banks"
    assert len(got.paragraphs) == 4
    assert got.paragraphs[0].startswith("Residents were evacuated")
    assert got.paragraphs[-1].startswith("Officials expect")
    assert got.authors == ("Maria Lopez", "Tom Berg")
    assert got.syndication == "Reuters"
    assert got.published_at == datetime(2024, 3, 3, 9, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "chrome"),
    [
        pytest.param("Skip to content", True, id="skip-link"),
        pytest.param("Accept cookies", True, id="consent-button"),
        pytest.param("This website uses cookies. Read our policy.", True, id="cookie-banner"),
        pytest.param("READ MORE: West working to disrupt talks", True, id="read-more"),
        pytest.param("Also read: Ukraine claims three regions", True, id="also-read"),
        pytest.param("© Example Media, 2005–2022. All rights reserved.", True, id="copyright"),
        pytest.param("25:10", True, id="media-timestamp"),
        pytest.param("Leer en Español", True, id="language-switch"),
        pytest.param("العربيةespрусdefr", True, id="language-menu"),
        pytest.param("Tags Donetsk Kharkiv russia", True, id="tags"),
        pytest.param("See all Video", True, id="see-all"),
        pytest.param("Load more", True, id="load-more"),
        pytest.param("Exit mobile version", True, id="exit-mobile"),
        pytest.param("The Pentagon said Tuesday that forces had left.", False, id="prose"),
        pytest.param("Defense Minister said the war is entering a new phase.", False, id="prose-2"),
    ],
)
def test_chrome_line_rules(line: str, chrome: bool) -> None:
    """Chrome families are recognised by shape and wording, and prose is left alone."""
    assert is_chrome_line(line) is chrome


_PROSE = st.lists(
    st.text(alphabet="abcdefghij ", min_size=40, max_size=120).map(lambda s: s.strip() + "."),
    min_size=1,
    max_size=8,
)


@given(_PROSE)
def test_output_paragraphs_are_input_lines(lines: list[str]) -> None:
    """The cleaner only removes lines: every paragraph it returns is a line of the capture."""
    got = clean_capture("\n".join(lines))
    normalized = {" ".join(line.split()) for line in lines}
    assert set(got.paragraphs) <= normalized


@pytest.mark.parametrize(
    ("line", "names", "rest"),
    [
        pytest.param("By Maria Lopez and Tom Berg, Reuters", "Maria Lopez and Tom Berg", "Reuters"),
        pytest.param("Von Nina Magoley", "Nina Magoley", None, id="de"),
        pytest.param("By HERB KEINON AND YAAKOV KATZ", "HERB KEINON AND YAAKOV KATZ", None),
        pytest.param("By Ludwig van Beethoven | AP", "Ludwig van Beethoven", "AP", id="particle"),
        pytest.param("By J. R. Smith", "J. R. Smith", None, id="initials"),
        pytest.param("By then it was over.", None, None, id="prose-lower-case"),
        pytest.param("Von Anfang an", None, None, id="phrase-lower-case"),
        pytest.param("By Monday the deal was done.", None, None, id="prose-capitalised"),
    ],
)
def test_one_byline_rule_for_the_cleaner_and_the_postfilter(line, names, rest) -> None:
    """Both text passes read a byline with the same rule: capitalised names, then the rest."""
    match = BYLINE_RE.match(line)
    got = None if match is None else (match["names"], match["rest"])
    assert got == (None if names is None else (names, rest))


CHROME_RULES = {
    "skip_link": "Skip to content",
    "consent": "We use cookies to improve your experience.",
    "copyright": "© 2026 Example Media. All rights reserved.",
    "promo": "Read more: the budget explained",
    "navigation": "Load more",
    "timestamp": "12:45",
    "tags": "Tags: politics, budget",
    "breadcrumb": "Home › World › Europe",
    "language_switch": "Leer en español",
    "icons": "facebook-icon twitter-icon email-icon",
    "script_soup": "العربيةespрусdefr",
    "share": "Like this story? Share it",
    "truncated_teaser": "The minister said that the…",
    "list_item": "• Weather",
}


@pytest.mark.parametrize(("rule", "line"), CHROME_RULES.items(), ids=CHROME_RULES.keys())
def test_each_chrome_rule_has_a_name(rule: str, line: str) -> None:
    """Every chrome rule is named, and a line of that kind is caught by that rule first."""
    assert chrome_rule(line, loose=True) == rule


def test_a_line_of_prose_meets_no_chrome_rule() -> None:
    """A sentence of reporting is content under every rule, loose or not."""
    line = "The minister said on Tuesday that the budget would be presented in March."
    assert chrome_rule(line, loose=True) is None
