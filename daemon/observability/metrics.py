"""Counters by stage, outcome and reason, and the summary line printed at shutdown.

One `Metrics` object per process.  Names follow `<stage>.<outcome>[.<reason>]`, e.g.
`fetch.error.timeout`, `dedup.skip.unchanged`, `publish.ok.article.new`.
"""

from __future__ import annotations

from collections import Counter


class Metrics:
    """Monotonic counters; cheap enough to call per record."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def incr(self, name: str, by: int = 1) -> None:
        self.counts[name] += by

    def merge(self, counts: Counter[str], prefix: str = "") -> None:
        """Fold a stage's own counter (e.g. the poller's, already named `poll.*`) in."""
        for key, value in counts.items():
            self.counts[f"{prefix}{key}"] = value

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
