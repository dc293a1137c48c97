"""The sink contract: where acknowledged events go.

A sink takes an `OutMessage` and returns a *delivery*: an awaitable that completes only once the
destination acknowledged the message (for Kafka: acks=all).  `send` itself only enqueues, so the
pipeline keeps many messages in flight while awaiting deliveries in order.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Literal, Protocol

Channel = Literal["articles", "duplicates", "updates", "errors", "stories"]


@dataclass(frozen=True, slots=True)
class OutMessage:
    """One encoded event and where it goes; `key` keeps a cluster in one partition."""

    channel: Channel
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


class Sink(Protocol):
    async def start(self) -> None:
        """Connect and prepare the destination (create topics); raise `SinkError` if impossible."""

    async def send(self, message: OutMessage) -> Awaitable[None]:
        """Enqueue `message`; the returned awaitable raises `SinkError` if delivery failed for
        good (retryable errors were retried first)."""

    async def check(self) -> None:
        """Raise `SinkError` unless the destination answers now (readiness probe)."""

    def oversize(self, message: OutMessage) -> int:
        """Bytes by which `message` exceeds the destination's message limit; 0 or less: fits."""

    async def close(self) -> None:
        """Flush what is pending, then release connections."""
