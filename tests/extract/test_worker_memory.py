"""What the extraction workers and the event loop hold in memory.

The event loop imports only the light side of the extraction stage (daemon/extract/tasks.py,
daemon/extract/result.py); the workers tune glibc's heap so that a large page's memory goes
back to the system (daemon/extract/heap.py).
"""

from __future__ import annotations

import gzip
import pickle
import subprocess
import sys
from pathlib import Path

import lxml.html

from daemon.dedup.fingerprint import FingerprintParams, fingerprint
from daemon.extract import heap
from daemon.extract.result import paragraphs
from daemon.extract.tasks import html_task, text_task
from daemon.extract.work import extract_html, extract_text
from daemon.settings import DedupSettings

PAGE = Path(__file__).parent / "golden" / "pages" / "fundus__CBCNews_2024_08_08.html.gz"


def _same(found: object, expected: object) -> bool:
    """Equal field by field (a fingerprint holds arrays, whose `==` is element-wise)."""
    return found is not None and pickle.dumps(found) == pickle.dumps(expected)


def test_the_event_loop_does_not_import_the_parsers() -> None:
    """Importing the daemon (what `newsd run` does) loads neither trafilatura nor justext nor
    htmldate: their modules and tables live in the extraction workers only."""
    probe = (
        "import sys, daemon.cli, daemon.app\n"
        "print(sorted(m for m in ('trafilatura', 'justext', 'htmldate', 'daemon.extract.work')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_html_task_is_the_fingerprinted_extraction() -> None:
    """The function the pool runs for a page gives the extraction of the page, with dedup's
    fingerprint of its text when the parameters are given, and none without them."""
    body = gzip.decompress(PAGE.read_bytes())
    params = FingerprintParams.of(DedupSettings())
    url = "https://www.cbc.ca/news/a"
    found = html_task(params, body, url, favor_precision=True, declared_language="en")
    expected = extract_html(body, url, favor_precision=True, declared_language="en")
    assert len(found.text) > 1000
    assert (found.text, found.fields) == (expected.text, expected.fields)
    assert _same(found.fingerprint, fingerprint(paragraphs(found.text), params))
    bare = html_task(None, body, url, favor_precision=True, declared_language="en")
    assert bare.fingerprint is None and bare.text == found.text


def test_the_text_task_is_the_fingerprinted_capture() -> None:
    """The function the pool runs for a plain-text capture gives `extract_text`'s result."""
    body = ("Flood defences\n\n" + "The council voted to expand the defences. " * 20).encode()
    params = FingerprintParams.of(DedupSettings())
    found = text_task(params, body, declared_language="en", charset=None)
    expected = extract_text(body, declared_language="en")
    assert found.text == expected.text and found.text
    assert _same(found.fingerprint, fingerprint(paragraphs(found.text), params))


def test_the_heap_thresholds_are_fixed_on_glibc() -> None:
    """On glibc (the machines newsd runs on) the workers' mmap and trim thresholds are set."""
    assert heap.fix_thresholds() is True


def test_a_small_document_is_not_followed_by_a_trim() -> None:
    """Trimming costs about a millisecond: a document under `TRIM_AFTER_BYTES` skips it."""
    assert heap.release_after(heap.TRIM_AFTER_BYTES - 1) is False


def test_memory_freed_after_a_large_document_goes_back_to_the_system() -> None:
    """After a large tree is built and freed, the trim returns its free heap pages."""
    body = gzip.decompress(PAGE.read_bytes()) * 8
    trees = [lxml.html.fromstring(body) for _ in range(4)]
    del trees
    assert heap.release_after(len(body)) is True


def test_the_shared_stoplist_is_the_one_justext_would_build() -> None:
    """The one shared stoplist holds exactly the words justext's `define_stoplist` makes of
    trafilatura's union of every stoplist, and justext is handed that set itself, not a copy."""
    probe = (
        "import justext, justext.core, trafilatura.external as ext\n"
        "expected = justext.core.define_stoplist(ext.jt_stoplist_init())\n"
        "from daemon.extract import stoplist\n"
        "shared = stoplist.share()\n"
        "assert shared == expected and len(shared) > 100000, len(shared)\n"
        "assert ext.JT_STOPLIST is shared and justext.core.define_stoplist(shared) is shared\n"
        "assert stoplist.share() is shared\n"
        "english = justext.get_stoplist('English')\n"
        "assert justext.core.define_stoplist(english) == english\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


SHORT_PAGE = (
    b"<html><body><div><div>Home | World | Sport</div><div>The council voted on Tuesday to "
    b"expand the flood defences of the old town, after a decade of rising water.</div>"
    b"<div>Engineers start in the spring.</div></div></body></html>"
)


def test_a_page_through_justext_extracts_the_same_with_the_shared_stoplist() -> None:
    """A short page, whose text sends trafilatura's full pass to justext, gives the same text
    with the shared stoplist as with trafilatura's own (each in a fresh process)."""
    probe = (
        "import sys, justext.core, trafilatura.external as ext\n"
        "from daemon.extract.work import extract_html, share_stoplist\n"
        "if sys.argv[1] == 'shared':\n"
        "    share_stoplist()\n"
        "calls, classify = [], ext.classify_paragraphs\n"
        "ext.classify_paragraphs = lambda *a, **k: calls.append(1) or classify(*a, **k)\n"
        "page = sys.stdin.buffer.read()\n"
        "text = extract_html(page, 'https://example.com/a', declared_language=None).text\n"
        "print(len(calls), text)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe, mode], input=SHORT_PAGE, capture_output=True, check=True
        ).stdout.decode()
        for mode in ("own", "shared")
    ]
    assert runs[0] == runs[1]
    assert int(runs[0].split()[0]) > 0 and "flood defences" in runs[0]
