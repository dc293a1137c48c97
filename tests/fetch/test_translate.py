"""Foreign exceptions become the most specific FetchError, whatever the order of the table."""

from __future__ import annotations

import random
import ssl

import httpcore
import httpx
import pytest

from daemon.fetch.client import TRANSLATIONS, translate

CASES = {
    "timeout is an OSError but a timeout first": (TimeoutError(), "timeout", True),
    "httpx connect timeout": (httpx.ConnectTimeout("t"), "timeout", True),
    "httpcore read timeout": (httpcore.ReadTimeout("t"), "timeout", True),
    "connect error is a network error but a connect error first": (
        httpx.ConnectError("refused"),
        "connect_error",
        True,
    ),
    "httpcore connect error": (httpcore.ConnectError("refused"), "connect_error", True),
    "read error": (httpx.ReadError("reset"), "network_error", True),
    "refused socket": (ConnectionRefusedError(), "network_error", True),
    "remote protocol": (httpx.RemoteProtocolError("bad"), "protocol_error", True),
    "local protocol": (httpcore.LocalProtocolError("bad"), "protocol_error", False),
    "proxy": (httpx.ProxyError("407"), "proxy_error", True),
    "unsupported protocol": (httpx.UnsupportedProtocol("ftp"), "bad_scheme", False),
    "invalid url": (httpx.InvalidURL("x"), "bad_url", False),
    "decoding": (httpx.DecodingError("gzip"), "bad_encoding", False),
    "unknown": (ValueError("?"), "http_error", False),
}


@pytest.mark.parametrize(("exc", "reason", "retryable"), CASES.values(), ids=CASES.keys())
def test_the_most_specific_type_decides(exc: Exception, reason: str, retryable: bool) -> None:
    """Each exception maps to the entry of its most specific type in the table."""
    error = translate(exc, "http://a.test/")
    assert (error.reason, error.retryable) == (reason, retryable)


def test_reordering_the_table_cannot_change_a_result() -> None:
    """The table is looked up by the exception's type hierarchy, never by entry order."""
    expected = [translate(exc, "u").reason for exc, _, _ in CASES.values()]
    entries = list(TRANSLATIONS.items())
    rng = random.Random(7)
    for order in [entries[::-1], *(rng.sample(entries, len(entries)) for _ in range(20))]:
        table = dict(order)
        assert [translate(exc, "u", table).reason for exc, _, _ in CASES.values()] == expected


def test_a_tls_failure_behind_a_connect_error_is_a_tls_error() -> None:
    """A certificate failure wrapped in a connect error is `tls_error`, not retryable."""
    try:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed")
        except ssl.SSLError as inner:
            raise httpx.ConnectError("handshake") from inner
    except httpx.ConnectError as outer:
        error = translate(outer, "https://a.test/")
    assert (error.reason, error.retryable) == ("tls_error", False)
