"""Site names without copyright lines or taglines, headlines without the site's name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.extract.sitename import clean_site_name, strip_site_suffix, url_section


@pytest.mark.parametrize(
    ("raw", "url", "expected"),
    [
        ("Copyright 2007 TV3", "https://www.tv3.ie/news/1", "TV3"),
        (
            "© MMVIII, CBS Television Stations Inc.",
            "https://cbs2.com/a/b",
            "CBS Television Stations Inc",
        ),
        (
            "Aktuálně.cz - Víte, co se právě děje",
            "https://zpravy.aktualne.cz/a/r~1/",
            "Aktuálně.cz",
        ),
        (
            "Víte, co se právě děje | Aktuálně.cz",
            "https://zpravy.aktualne.cz/a/r~1/",
            "Aktuálně.cz",
        ),
        ("BBC News", "https://www.bbc.co.uk/news/world-1", "BBC News"),
        ("The Guardian", "https://www.theguardian.com/world/x", "The Guardian"),
        ("  ", "https://example.com/a", None),
        (
            "Read the latest news from all over the world, every single day of the year",
            "https://example.com/a",
            None,
        ),
    ],
)
def test_clean_site_name(raw: str, url: str, expected: str | None) -> None:
    """Copyright words, years (also in Roman numerals) and taglines go; the part that names the
    site (its domain) stays; a sentence is no name at all."""
    assert clean_site_name(raw, url) == expected


@pytest.mark.parametrize(
    ("title", "site", "url", "expected"),
    [
        (
            "Floods in Prague | Aktuálně.cz",
            "Aktuálně.cz",
            "https://zpravy.aktualne.cz/a/",
            "Floods in Prague",
        ),
        (
            "Floods in Prague - Aktualne.cz",
            None,
            "https://zpravy.aktualne.cz/a/",
            "Floods in Prague",
        ),
        (
            "BBC News - Storm hits coast",
            "BBC News",
            "https://www.bbc.co.uk/news/1",
            "Storm hits coast",
        ),
        (
            "Biden - Trump debate: what we learned",
            "CNN",
            "https://cnn.com/a/b",
            "Biden - Trump debate: what we learned",
        ),
        ("Storm | The Guardian", "The Guardian", "https://www.theguardian.com/a/b", "Storm"),
        ("Guardian", "Guardian", "https://www.theguardian.com/a/b", "Guardian"),
    ],
)
def test_strip_site_suffix(title: str, site: str | None, url: str, expected: str) -> None:
    """A leading or trailing part equal to the site name or its domain is dropped; other
    separated parts stay; a headline is never emptied."""
    assert strip_site_suffix(title, site, url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/world/2024/05/01/storm", "world"),
        ("https://example.com/news/politics/storm-hits-123", "politics"),
        ("https://example.com/storm-hits-123", None),
        ("https://example.com/2024/05/storm", None),
        ("https://example.com/article/123", None),
    ],
)
def test_url_section(url: str, expected: str | None) -> None:
    """The first path word that is not a template word, a date or the slug itself."""
    assert url_section(url) == expected


words = st.text(alphabet="abcXYZ.é ©|-–:", max_size=40)


@given(words, st.one_of(st.none(), words))
def test_a_headline_is_never_emptied(title: str, site: str | None) -> None:
    """Whatever the separators and names, a non-empty headline stays non-empty."""
    stripped = strip_site_suffix(title, site, "https://abc.example/x/y")
    assert stripped is not None and (stripped or not title)


@given(words)
def test_a_clean_site_name_is_short_and_has_no_copyright_sign(raw: str) -> None:
    """A cleaned name is None or a trimmed, short string without a copyright sign."""
    name = clean_site_name(raw, "https://abc.example/x")
    if name is not None:
        assert name == name.strip() and 0 < len(name) <= 60 and "©" not in name
