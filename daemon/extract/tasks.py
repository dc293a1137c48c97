"""The functions the event loop hands to the extraction pool, by name.

The pool pickles a function by reference, so the event loop must import it; these two import
the extraction code (trafilatura, justext, htmldate and their tables) only when they run, in a
worker, where the fork server has already loaded it (daemon/extract/preload.py).  The event
loop's process never loads it.
"""

from __future__ import annotations

from daemon.dedup.fingerprint import FingerprintParams
from daemon.extract.heap import release_after
from daemon.extract.result import Extracted


def html_task(
    params: FingerprintParams | None,
    body: bytes,
    url: str | None,
    *,
    favor_precision: bool,
    declared_language: str | None,
) -> Extracted:
    """`extract_html` of an HTML page, fingerprinted when `params` are given."""
    from daemon.extract import work  # in the worker only: see above

    found = work.fingerprinted(
        params,
        work.extract_html,
        body,
        url,
        favor_precision=favor_precision,
        declared_language=declared_language,
    )
    release_after(len(body))
    return found


def text_task(
    params: FingerprintParams | None,
    body: bytes,
    *,
    declared_language: str | None,
    charset: str | None,
) -> Extracted:
    """`extract_text` of a plain-text capture, fingerprinted when `params` are given."""
    from daemon.extract import work  # in the worker only: see above

    return work.fingerprinted(
        params, work.extract_text, body, declared_language=declared_language, charset=charset
    )
