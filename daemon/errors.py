"""The exception tree of newsd.

Foreign exceptions (httpx, aiokafka, sqlite, feedparser, trafilatura) are translated where they
enter, always into the most specific type below, with a short machine-readable `reason` that the
pipeline counts (`newsd_records_total{stage, outcome, reason}`).

    Skip                    a record ends here on purpose (unchanged, ...); not an error
    NewsdError
     ├── ConfigError        a bad setting, naming its key path; exit code 2
     ├── UsageError         a mistake on the command line (missing file, bad value); exit code 2
     ├── StateLocked        another newsd process holds the state directory; exit code 1
     ├── WorkerDied         a pipeline worker died of a bug; the daemon stops, exit code 1
     ├── FetchError         an HTTP fetch failed (retryable, retry_after, status)
     │    └── BlockedAddress   the target resolves to a refused network (SSRF guard)
     ├── FeedError          a body that is not a usable feed (not_a_feed, unparseable)
     ├── ExtractError       extraction failed (timeout, worker crash)
     ├── SinkError          the broker refused or timed out (retryable)
     ├── StateError         the durable store failed
     └── ReplayError        an archive could not be read at all

`Skip` is not a failure: it is the single exit path for "not this one" (Scrapy's `DropItem`,
structlog's `DropEvent`), so it stands outside the tree and `except NewsdError` never catches it.
"""

from __future__ import annotations


class _Reasoned(Exception):  # noqa: N818 - the shared base of errors and Skip
    """An exception with a machine-readable `reason` and a human `detail`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class NewsdError(_Reasoned):
    """Base of every error newsd raises on purpose."""


class Skip(_Reasoned):  # a signal, not an error
    """Drop this record: counted by stage and reason, logged, and settled as done (the source
    does not offer it again)."""


class ConfigError(NewsdError):
    """A setting is invalid; `reason` is its key path (e.g. `fetch.timeout.read`)."""


class UsageError(NewsdError):
    """A mistake on the command line: a missing or unreadable file, a bad option value."""


class StateLocked(NewsdError):  # noqa: N818 - named for what it is
    """Another newsd process holds the state directory's lock; `detail` names its pid."""


class WorkerDied(NewsdError):  # noqa: N818 - named for what it is
    """A pipeline worker ended with an exception outside the per-record guard (a bug)."""


class FetchError(NewsdError):
    """An HTTP fetch failed.

    `retryable` says whether the same request may succeed later; `retry_after` is the delay the
    server asked for (seconds), if any; `status` is the HTTP status when there was a response.
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(reason, detail)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class BlockedAddress(FetchError):  # noqa: N818 - named for what it is
    """The URL's host resolves to a network newsd refuses to reach (SSRF guard)."""

    def __init__(self, detail: str) -> None:
        super().__init__("blocked_address", detail, retryable=False)


class FeedError(NewsdError):
    """A fetched body is not a usable feed (`not_a_feed`, `unparseable`)."""


class ExtractError(NewsdError):
    """Extraction failed (`timeout`, `worker_crashed`, `error`)."""


class SinkError(NewsdError):
    """The sink could not deliver an event; `retryable` errors were retried at the boundary."""

    def __init__(self, reason: str, detail: str = "", *, retryable: bool = False) -> None:
        super().__init__(reason, detail)
        self.retryable = retryable


class StateError(NewsdError):
    """The durable state store failed."""


class ReplayError(NewsdError):
    """An archive or capture could not be read at all."""
