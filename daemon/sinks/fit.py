"""Pure: make an article event fit the sink's message limit, or say that it cannot.

A text too long for one message is cut after its last whole paragraph that fits; the event then
says so (`text_truncated: true`, `text_original_length`), and keeps the `event_id` and
`content_hash` of the full text (ids come from the content, not from the limit).  When even the
first paragraph does not fit, `fit` returns None: the caller publishes an error with reason
`too_large` instead of retrying as if the broker might change its mind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson

from daemon.events import ArticleEvent
from daemon.sinks.base import OutMessage

Encode = Callable[[ArticleEvent], OutMessage]
Oversize = Callable[[OutMessage], int]  # bytes over the limit, 0 (or less) when it fits
_NEWLINE = len(orjson.dumps("\n")) - 2  # a paragraph separator inside the JSON string


@dataclass(frozen=True, slots=True)
class Fitted:
    message: OutMessage
    truncated: bool


def fit(event: ArticleEvent, encode: Encode, oversize: Oversize) -> Fitted | None:
    """The message for `event`, its text shortened at a paragraph boundary if it must be."""
    message = encode(event)
    over = oversize(message)
    original = event.text
    while over > 0:
        text = shorten(event.text, over)
        if text is None:
            return None
        event = event.model_copy(
            update={"text": text, "text_truncated": True, "text_original_length": len(original)}
        )
        message = encode(event)
        over = oversize(message)
    return Fitted(message, truncated=event.text != original)


def shorten(text: str, cut: int) -> str | None:
    """`text` without as few trailing paragraphs (lines) as make it at least `cut` bytes
    shorter once JSON-encoded; None when only a part of the first paragraph could remain."""
    paragraphs = text.rstrip().split("\n")
    removed = 0
    while paragraphs and removed < cut:
        removed += _json_size(paragraphs.pop()) + _NEWLINE
    kept = "\n".join(paragraphs).rstrip()
    return kept or None


def _json_size(text: str) -> int:
    return len(orjson.dumps(text)) - 2
