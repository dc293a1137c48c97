"""Readiness: does the broker accept our events, and can we write our state?

`/readyz` answers from the last verdict of a `ReadinessProbe`, which every `ops.probe_interval`
seconds asks the sink for its broker's metadata (bounded by `kafka.request_timeout_ms`) and
checks that the state store takes a write lock.  Together with the pipeline's `PublishState`
(the last publish attempt, the events awaiting acknowledgement), `decide()` gives the verdict:

    ready  ⇔  (last publish attempt succeeded  or  nothing pending)
              and the metadata request succeeded
              and the state store is writable

A frozen broker therefore turns `/readyz` to 503 at most `request_timeout_ms` + one probe
interval after the freeze, and back to 200 once a metadata request and a publish succeed again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from daemon.errors import NewsdError

log = structlog.get_logger(__name__)

Check = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class PublishState:
    """What the pipeline knows about publishing: pending deliveries and the last outcome."""

    pending: int = 0
    last_ok: bool = True
    last_reason: str = ""
    progress_at: float = 0.0  # wall time of the last acknowledgement (or first pending event)

    def started(self) -> None:
        # The stall clock starts with the first pending event after a success; failed
        # deliveries (redone later) do not restart it.
        if self.pending == 0 and self.last_ok:
            self.progress_at = time.time()
        self.pending += 1

    def finished(self, *, ok: bool, reason: str = "") -> None:
        self.pending = max(0, self.pending - 1)
        self.attempted(ok=ok, reason=reason)
        if ok:
            self.progress_at = time.time()

    def attempted(self, *, ok: bool, reason: str = "") -> None:
        self.last_ok, self.last_reason = ok, reason

    def stalled_for(self, now: float) -> float:
        """Seconds events have waited without any acknowledgement (0 when nothing pends)."""
        return now - self.progress_at if self.pending else 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    ready: bool
    reason: str


def decide(publish: PublishState, broker_error: str | None, store_error: str | None) -> Verdict:
    """The readiness rule of the module docstring; the reason names the first failed check."""
    if broker_error is not None:
        return Verdict(False, f"broker: {broker_error}")
    if not publish.last_ok and publish.pending:
        return Verdict(False, f"publish failing: {publish.last_reason}")
    if store_error is not None:
        return Verdict(False, f"state store: {store_error}")
    return Verdict(True, "ok")


class ReadinessProbe:
    """Runs the broker and store checks on a timer; `verdict()` is cheap and never blocks."""

    def __init__(
        self,
        publish: PublishState,
        *,
        broker: Check,
        store: Check,
        interval: float,
        timeout: float,
    ) -> None:
        self.publish = publish
        self.broker, self.store = broker, store
        self.interval, self.timeout = interval, timeout
        self.broker_error: str | None = "not checked yet"
        self.store_error: str | None = None
        self.detail: Callable[[], str] | None = None  # e.g. "cluster: assigned 4 partitions"

    def verdict(self) -> Verdict:
        verdict = decide(self.publish, self.broker_error, self.store_error)
        if self.detail is None:
            return verdict
        return Verdict(verdict.ready, f"{verdict.reason}; {self.detail()}")

    async def run(self) -> None:
        """Check forever (cancel to stop); each change of verdict is logged once."""
        last = self.verdict()
        while True:
            self.broker_error = await self._check(self.broker)
            self.store_error = await self._check(self.store)
            now = self.verdict()
            if now != last:
                log.info("daemon.readiness", ready=now.ready, reason=now.reason)
                last = now
            await asyncio.sleep(self.interval)

    async def _check(self, check: Check) -> str | None:
        try:
            async with asyncio.timeout(self.timeout):
                await check()
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except NewsdError as exc:
            return str(exc)
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None
