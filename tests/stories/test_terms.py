"""Profiles: the distinctive terms and names of an article, deterministic and language-aware."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import stopwordsiso

from daemon.stories import terms
from daemon.stories.terms import fold, name_key, profile, stop_words


@pytest.mark.parametrize(
    ("word", "folded"),
    [
        ("İzyum", "izyum"),  # Turkish dotted capital I
        ("Défense", "defense"),
        ("ÇOCUK", "cocuk"),
        ("إِلَى", "الى"),  # Arabic harakat dropped
    ],
)
def test_fold_lowers_and_strips_marks(word: str, folded: str) -> None:
    """Folding lowers case and removes every combining mark, in any script."""
    assert fold(word) == folded


@pytest.mark.parametrize(
    ("spellings", "same"),
    [
        (("izum", "izyum", "izium"), True),
        (("kharkiv", "kharkov"), True),
        (("balaklya", "balakleya"), True),
        (("kupiyansk", "kupiansk"), True),
        (("kyiv", "kiev"), True),
        (("kharkiv", "kherson"), False),
        (("izyum", "donetsk"), False),
    ],
)
def test_name_keys_survive_transliteration(spellings: tuple[str, ...], same: bool) -> None:
    """Transliterations of one name share a key; different names do not."""
    assert (len({name_key(s) for s in spellings}) == 1) is same


def test_name_key_keeps_other_scripts() -> None:
    """A term outside ASCII is its own key (no skeleton for scripts we cannot reduce)."""
    assert name_key("أردوغان") == "أردوغان"


def test_stop_words_and_short_tokens_are_dropped() -> None:
    """Stop words of the language, tokens under three characters and small numbers go."""
    item = profile(None, "The troops of it are in 24 towns and 675 villages.", "en")
    assert set(item.terms) == {"troop", "town", "675", "villag"}


def test_title_words_weigh_more() -> None:
    """A word of the headline outweighs one said once in the body."""
    item = profile("Izyum retaken", "Forces entered the city. Izyum was quiet.", "en")
    weights = dict(zip(item.terms, item.weights, strict=True))
    assert weights["izyum"] > weights["forc"]
    assert item.terms[0] == "izyum"


def test_names_are_capitalised_words_never_written_in_lower_case() -> None:
    """Mid-sentence capitals are names; a sentence start proves nothing; a lower-case use vetoes."""
    text = (
        "Troops left Izyum on Saturday. Officials in Kharkiv said the Defense ministry agreed. "
        "Defense lines held. The defense of the town was long. Izyum is quiet."
    )
    item = profile(None, text, "en")
    assert {name_key("izyum"), name_key("kharkiv"), name_key("saturday")} <= set(item.names)
    assert name_key("defens") not in item.names  # also written "defense"
    assert name_key("troop") not in item.names  # only at a sentence start


def test_caseless_scripts_have_terms_but_no_names() -> None:
    """Arabic has no capitals: its articles are matched on terms alone."""
    item = profile("انسحاب القوات", "أعلنت وزارة الدفاع انسحاب القوات من المدينة يوم السبت.", "ar")
    assert item.terms and not item.names


def test_unknown_language_is_not_stemmed_but_still_profiled() -> None:
    """Without a stemmer or stop list the folded words themselves are the terms."""
    item = profile(None, "Kharkivska oblast kharkivska", None)
    assert item.terms == ("kharkivska", "oblast")


def test_profiles_are_deterministic() -> None:
    """The same article always gives the same profile (ties broken alphabetically)."""
    text = "Beta alpha gamma delta. Gamma beta alpha epsilon."
    assert profile("x", text, "en") == profile("x", text, "en")
    assert profile(None, text, "en").terms[:3] == ("alpha", "beta", "gamma")


def test_stop_words_are_stopwordsisos_list_read_one_language_at_a_time() -> None:
    """The lazily read list of a language is stopwordsiso's own, folded; unknown ones are empty."""
    for language in ("en", "fr", "tr", "ar"):
        assert stop_words(language) == {fold(w) for w in stopwordsiso.stopwords(language)}
    assert stop_words("xx") == frozenset()
    assert stop_words(None) == frozenset()


def test_a_full_stem_table_is_emptied_without_changing_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The per-language word → stem table is bounded; refilling it gives the same lead terms."""
    text = "Troops left Izyum on Saturday. Officials in Kharkiv said the retreat was ordered."
    before = terms.lead_terms(text, "en")
    monkeypatch.setattr(terms, "_STEM_TABLE_SIZE", 4)
    assert terms.lead_terms(text, "en") == before
    assert terms.lead_terms("Something else entirely, written today.", "en").terms
    assert terms.lead_terms(text, "en") == before


def test_a_worker_loads_no_stop_word_lists_or_stemmers_it_does_not_need() -> None:
    """Importing the terms module loads neither stopwordsiso (every language's lists) nor
    PyStemmer; profiling English text still never imports stopwordsiso."""
    code = (
        "import sys, daemon.stories.terms as t\n"
        "assert 'stopwordsiso' not in sys.modules and 'Stemmer' not in sys.modules\n"
        "assert t.lead_terms('Troops left Izyum on Saturday.', 'en').terms\n"
        "assert 'stopwordsiso' not in sys.modules and 'Stemmer' in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
