"""Capped, incremental reading of a response body.

`BodyReader.read` counts bytes on the wire and bytes after Content-Encoding is undone, and stops
as soon as either cap is passed.  Decompression asks zlib for at most `cap + 1` bytes per call
(`max_length`), so a compression bomb (10 MB of zeros served as 10 KB of gzip) costs at most the
cap in memory and is refused after the first chunk that crosses it.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, Mapping

from daemon.errors import FetchError

SUPPORTED_ENCODINGS = ("gzip", "x-gzip", "deflate")


class _Inflater:
    """Incremental gzip/deflate decoder with an output limit per call."""

    def __init__(self, encoding: str) -> None:
        self._deflate = encoding == "deflate"
        wbits = zlib.MAX_WBITS if self._deflate else zlib.MAX_WBITS | 16
        self._zlib = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decode `data`; returns more than `limit` bytes only to signal that it overflowed."""
        try:
            out = self._zlib.decompress(data, limit + 1)
        except zlib.error:
            if not (self._deflate and not self._started):
                raise
            # "deflate" is often sent raw, without the zlib wrapper (httpx does the same retry).
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, limit + 1)
        self._started = True
        return out


def content_encodings(headers: Mapping[str, str]) -> list[str]:
    """The codings applied to the body, in the order they were applied (RFC 9110 §8.4)."""
    value = headers.get("content-encoding", "")
    codings = [c.strip().lower() for c in value.split(",")]
    return [c for c in codings if c and c != "identity"]


class BodyReader:
    """Reads one body within `max_wire` bytes received and `max_decoded` bytes decoded."""

    def __init__(self, *, max_wire: int, max_decoded: int) -> None:
        self.max_wire = max_wire
        self.max_decoded = max_decoded

    async def read(self, headers: Mapping[str, str], raw: AsyncIterable[bytes]) -> bytes:
        """The decoded body; raises `FetchError("too_large")` or `FetchError("bad_encoding")`."""
        self._check_declared_length(headers)
        inflaters = [_Inflater(c) for c in reversed(self._codings(headers))]
        body = bytearray()
        wire = 0
        async for chunk in raw:
            wire += len(chunk)
            if wire > self.max_wire:
                raise FetchError("too_large", f"more than {self.max_wire} bytes on the wire")
            body += self._decode(inflaters, chunk, self.max_decoded - len(body))
        return bytes(body)

    def _decode(self, inflaters: list[_Inflater], data: bytes, limit: int) -> bytes:
        for inflater in inflaters:
            try:
                data = inflater.feed(data, limit)
            except zlib.error as exc:
                raise FetchError("bad_encoding", f"corrupt compressed body: {exc}") from exc
            # Checked per layer: an inner layer cut at `limit + 1` must not pass as complete.
            if len(data) > limit:
                raise FetchError("too_large", f"more than {self.max_decoded} bytes decoded")
        return data

    def _codings(self, headers: Mapping[str, str]) -> list[str]:
        codings = content_encodings(headers)
        unknown = [c for c in codings if c not in SUPPORTED_ENCODINGS]
        if unknown:
            raise FetchError("bad_encoding", f"unsupported Content-Encoding {unknown}")
        return codings

    def _check_declared_length(self, headers: Mapping[str, str]) -> None:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_wire:
            raise FetchError("too_large", f"Content-Length {declared} > {self.max_wire}")
