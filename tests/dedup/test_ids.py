"""Fast paths of identity values give exactly what the plain library calls give."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.dedup.deduper import _host, _site
from daemon.dedup.keys import EVENT_NAMESPACE, canonical_url, event_id
from tests.dedup.conftest import make_article as article

_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)


@given(_TEXT, _TEXT)
@settings(max_examples=300)
def test_event_id_is_the_uuid5_of_url_and_hash(url: str, text_hash: str) -> None:
    """event_id() is str(uuid.uuid5(EVENT_NAMESPACE, url + "\\n" + hash)), bit for bit."""
    expected = str(uuid.uuid5(EVENT_NAMESPACE, f"{url}\n{text_hash}"))
    assert event_id(url, text_hash) == expected


_URLS = [
    "https://www.example.com/a/b?c=1",
    "http://example.com:8080/x",
    "https://user@host.example/",
    "https://[2001:db8::1]:8443/path",
    "https://EXAMPLE.org.?q=1#f",
    "https://b\u00fccher.example/a",
    "https://host.example?x=/y",
    "mailto:someone@example.com",
    "/relative//path",
    "",
]


@given(
    st.sampled_from(_URLS)
    | st.from_regex(r"[a-z]{1,5}://[\w.:@\[\]-]{0,20}[/?#]?[\w/?#=&.-]{0,20}", fullmatch=True)
)
@settings(max_examples=300)
def test_site_is_the_host_urlsplit_finds(url: str) -> None:
    """The per-site key is the URL's host as urlsplit() parses it, without "www."."""
    try:
        expected = (urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:  # an invalid URL fails the same way on both paths
        return
    assert _site(article("text", url)) == expected


def test_site_of_canonical_urls() -> None:
    """Canonical URLs (what articles carry) give their host."""
    for url in _URLS[:8]:
        canonical = canonical_url(url)
        assert _site(article("text", canonical)) == _host(canonical)
