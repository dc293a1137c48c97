"""BodyReader: capped incremental decoding (unit level; real-server tests: test_client.py)."""

from __future__ import annotations

import asyncio
import gzip
import random
import zlib
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.errors import FetchError
from daemon.fetch.decoding import BodyReader, content_encodings


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _read(reader: BodyReader, headers: dict[str, str], data: bytes, size: int) -> bytes:
    return asyncio.run(reader.read(headers, _chunks(data, size)))


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=6000), st.integers(1, 3000), st.sampled_from(["gzip", "deflate", ""]))
def test_decoded_body_is_exact_or_refused(body: bytes, chunk: int, coding: str) -> None:
    """For any body and chunking: the decoded bytes equal the original when within the cap, and
    the read is refused as too_large when the original is over it."""
    wire = {"gzip": gzip.compress, "deflate": zlib.compress, "": bytes}[coding](body)
    reader = BodyReader(max_wire=100_000, max_decoded=3000)
    headers = {"content-encoding": coding} if coding else {}
    if len(body) > 3000:
        with pytest.raises(FetchError, match="too_large"):
            _read(reader, headers, wire, chunk)
    else:
        assert _read(reader, headers, wire, chunk) == body


def test_nested_codings_are_undone_in_reverse() -> None:
    """`Content-Encoding: deflate, gzip` means gzip(deflate(body)); both layers are undone."""
    body = b"layered " * 100
    wire = gzip.compress(zlib.compress(body))
    reader = BodyReader(max_wire=100_000, max_decoded=100_000)
    assert _read(reader, {"content-encoding": "deflate, gzip"}, wire, 64) == body


def test_inner_layer_overflow_is_refused() -> None:
    """A bomb inside the inner layer is refused even if the outer layer stays small."""
    wire = gzip.compress(gzip.compress(b"\0" * 2_000_000))
    reader = BodyReader(max_wire=100_000, max_decoded=10_000)
    with pytest.raises(FetchError, match="too_large"):
        _read(reader, {"content-encoding": "gzip, gzip"}, wire, 512)


def test_declared_length_over_cap_is_refused_before_reading() -> None:
    """A Content-Length over the wire cap is refused without reading the body."""
    reader = BodyReader(max_wire=1000, max_decoded=1000)
    with pytest.raises(FetchError, match="too_large"):
        _read(reader, {"content-length": "5000"}, b"", 1)


def test_corrupt_gzip_is_bad_encoding() -> None:
    """Bytes labelled gzip that are not gzip give bad_encoding."""
    reader = BodyReader(max_wire=1000, max_decoded=1000)
    with pytest.raises(FetchError, match="bad_encoding"):
        _read(reader, {"content-encoding": "gzip"}, b"not gzip at all", 4)


def test_content_encodings_parsing() -> None:
    """Identity and blanks are dropped; names are lower-cased and kept in order."""
    assert content_encodings({"content-encoding": "Identity, GZIP ,"}) == ["gzip"]


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_bodies_larger_than_one_piece_decode_exactly(coding: str) -> None:
    """Bodies spanning many decoder pieces (STEP) decode byte for byte, and the cap still holds."""
    body = random.Random(0).randbytes(150_000) + b"\0" * 500_000
    wire = gzip.compress(body) if coding == "gzip" else zlib.compress(body)
    headers = {"content-encoding": coding}
    assert _read(BodyReader(max_wire=10**6, max_decoded=10**6), headers, wire, 1000) == body
    with pytest.raises(FetchError, match="too_large"):
        _read(BodyReader(max_wire=10**6, max_decoded=600_000), headers, wire, 1000)
