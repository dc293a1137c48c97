"""Capped, incremental reading of a response body.

`BodyReader.read` counts bytes on the wire and bytes after Content-Encoding is undone, and stops
as soon as either cap is passed.  Decompression asks zlib for at most STEP bytes per call
(`max_length`) and checks the cap before keeping each piece, so a compression bomb (10 MB of zeros
served as 10 KB of gzip) costs at most the cap plus one piece in memory, and inflating stops at
the piece that crosses the cap.  Every layer of a multi-coding body is decoded the same way.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping

from daemon.errors import FetchError

SUPPORTED_ENCODINGS = ("gzip", "x-gzip", "deflate")


STEP = 64 * 1024  # largest decoded piece held at once, besides the body itself


class _Inflater:
    """Incremental gzip/deflate decoder that hands out its output in pieces of at most STEP."""

    def __init__(self, encoding: str) -> None:
        self._deflate = encoding == "deflate"
        wbits = zlib.MAX_WBITS if self._deflate else zlib.MAX_WBITS | 16
        self._zlib = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decode `data`, piece by piece; stopping early leaves the rest undecoded."""
        out = self._first(data)
        yield out
        # A full piece may leave input (unconsumed_tail) or output pending inside zlib.
        while len(out) == STEP:
            out = self._zlib.decompress(self._zlib.unconsumed_tail, STEP)
            yield out

    def _first(self, data: bytes) -> bytes:
        try:
            out = self._zlib.decompress(data, STEP)
        except zlib.error:
            if not (self._deflate and not self._started):
                raise
            # "deflate" is often sent raw, without the zlib wrapper (httpx does the same retry).
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, STEP)
        self._started = True
        return out


def _through(inflater: _Inflater, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from inflater.feed(piece)


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
            self._append(body, self._decode(inflaters, chunk))
        return bytes(body)

    def _decode(self, inflaters: list[_Inflater], chunk: bytes) -> Iterator[bytes]:
        pieces: Iterable[bytes] = (chunk,)
        for inflater in inflaters:
            pieces = _through(inflater, pieces)
        return iter(pieces)

    def _append(self, body: bytearray, pieces: Iterator[bytes]) -> None:
        try:
            for piece in pieces:
                if len(body) + len(piece) > self.max_decoded:
                    raise FetchError("too_large", f"more than {self.max_decoded} bytes decoded")
                body += piece
        except zlib.error as exc:
            raise FetchError("bad_encoding", f"corrupt compressed body: {exc}") from exc

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
