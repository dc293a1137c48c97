"""Pure: cutting an event's text at a paragraph boundary to fit a message limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from daemon.events import ArticleEvent, Source
from daemon.sinks.base import OutMessage
from daemon.sinks.fit import fit, shorten

NOW = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "cut", "expected"),
    [
        ("one\ntwo\nthree", 0, "one\ntwo\nthree"),
        ("one\ntwo\nthree", 1, "one\ntwo"),
        ("one\ntwo\nthree", 7, "one\ntwo"),  # "three" plus its separator: 7 bytes
        ("one\ntwo\nthree", 8, "one"),
        ("one\n\ntwo", 4, "one"),  # the blank line goes with the paragraph after it
        ("één\ntwee", 6, "één"),  # bytes, not characters
        ("only one paragraph", 1, None),
        ('say "hi"\nend', 5, 'say "hi"'),
    ],
)
def test_shorten_drops_whole_trailing_paragraphs(text: str, cut: int, expected: str | None):
    """The fewest trailing paragraphs are dropped to save `cut` JSON bytes; None when only
    a piece of the first paragraph could remain."""
    assert shorten(text, cut) == expected


def event(text: str) -> ArticleEvent:
    return ArticleEvent(
        event_id="e",
        type="article.new",
        url="http://a.test/1",
        canonical_url="http://a.test/1",
        feed=Source(kind="feed", id="f"),
        text=text,
        fetched_at=NOW,
        content_hash="sha256:x",
        cluster_id="e",
        extraction="ok",
    )


def encode(e: ArticleEvent) -> OutMessage:
    return OutMessage("articles", b"e", e.model_dump_json().encode(), ())


def limit(size: int):
    return lambda message: len(message.value) - size


def test_fit_leaves_a_small_event_alone():
    """An event under the limit is encoded as it is, not flagged."""
    fitted = fit(event("short\ntext"), encode, limit(10_000))
    assert fitted is not None and not fitted.truncated
    assert b'"text_truncated":false' in fitted.message.value


def test_fit_truncates_and_flags_with_the_original_length():
    """Over the limit: the text loses trailing paragraphs until the message fits, and the
    event says it was truncated and how long the full text was."""
    text = "\n".join(f"paragraph {i} " + "x" * 100 for i in range(50))
    full = len(encode(event(text)).value)
    fitted = fit(event(text), encode, limit(full - 500))
    assert fitted is not None and fitted.truncated
    assert len(fitted.message.value) <= full - 500
    body = ArticleEvent.model_validate_json(fitted.message.value)
    assert body.text_truncated and body.text_original_length == len(text)
    assert text.startswith(body.text + "\n") and body.text.count("\n") == 44


def test_fit_gives_up_when_the_first_paragraph_is_too_long():
    """A single paragraph over the limit cannot be cut at a boundary: None (too_large)."""
    assert fit(event("x" * 5_000), encode, limit(1_000)) is None
