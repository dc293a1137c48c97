"""Offline language identification: bundled model only, declared language as a prior."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from daemon.extract import language


def test_model_ships_inside_the_installed_package() -> None:
    """The lite model is a file inside site-packages, not a cache directory."""
    path = language.model_path()
    assert path.is_file()
    assert any(Path(p) in path.parents for p in sys.path if "site-packages" in p)


def test_detection_works_with_the_network_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """With proxies pointing nowhere and sockets refused, detection still answers."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    language._detector.cache_clear()
    text = "Die Bundesregierung hat am Dienstag beschlossen, die Hilfen zu verlängern."
    assert language.detect_language(text) == "de"


@pytest.mark.parametrize(
    ("text", "declared", "expected"),
    [
        pytest.param("The minister said the talks would resume next week.", None, "en", id="en"),
        pytest.param("Hola", "es-ES", "es", id="short-keeps-prior"),
        pytest.param("", "de", "de", id="empty-keeps-prior"),
        pytest.param(
            "Le gouvernement a annoncé mardi une nouvelle réforme des retraites pour 2025.",
            "en",
            "fr",
            id="confident-overrules-prior",
        ),
    ],
)
def test_declared_language_is_a_prior(text: str, declared: str | None, expected: str) -> None:
    """Short or empty text keeps the feed's language; clear evidence overrules it."""
    assert language.detect_language(text, declared=declared) == expected
