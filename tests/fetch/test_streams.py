"""AsyncioBackend streams against real sockets on 127.0.0.1: reads, EOF, timeouts, back-pressure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpcore
import pytest

from daemon.fetch.transport.streams import HIGH_WATER, AsyncioBackend
from tests.conftest import until

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def read_all(stream: httpcore.AsyncNetworkStream) -> bytes:
    parts = []
    while part := await stream.read(65536, timeout=2.0):
        parts.append(part)
    return b"".join(parts)


@pytest.fixture
async def echo_then_close() -> AsyncIterator[int]:
    """A server that answers each connection with one line of what it got, then closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.write(b"got " + line)
        await writer.drain()
        writer.close()

    server, port = await serve(handle)
    async with server:
        yield port


async def test_write_read_and_end_of_stream(echo_then_close: int) -> None:
    """What the server sends is read back, then b"" marks the end and `is_readable` says so."""
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", echo_then_close, timeout=2.0)
    await stream.write(b"hello\n", timeout=2.0)
    assert await read_all(stream) == b"got hello\n"
    assert stream.get_extra_info("is_readable") is True
    await stream.aclose()


async def test_read_timeout() -> None:
    """A server that says nothing makes `read` raise ReadTimeout after the timeout."""

    hung_up = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # says nothing until the client hangs up
        writer.close()
        hung_up.set()

    server, port = await serve(silent)
    async with server:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
        assert stream.get_extra_info("is_readable") is False
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(1024, timeout=0.1)
        await stream.aclose()
        await hung_up.wait()


async def test_refused_connection_is_connect_error() -> None:
    """Nothing listening: ConnectError (translated by the fetcher to connect_error)."""
    server, port = await serve(lambda r, w: asyncio.sleep(0))
    server.close()
    await server.wait_closed()
    with pytest.raises(httpcore.ConnectError):
        await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)


async def test_large_body_arrives_whole_through_back_pressure() -> None:
    """A body several times the buffer's high-water mark is read exactly, in bounded pieces."""
    body = bytes(range(256)) * (4 * HIGH_WATER // 256)

    async def blast(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(body)
        await writer.drain()
        writer.close()

    server, port = await serve(blast)
    async with server:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
        transport = stream._transport  # type: ignore[attr-defined]
        await until(lambda: not transport.is_reading())  # the buffer filled: reading paused
        pieces = []
        while piece := await stream.read(65536, timeout=2.0):
            assert len(piece) <= 65536
            pieces.append(piece)
        await stream.aclose()
    assert b"".join(pieces) == body


async def test_unsolicited_bytes_make_an_idle_stream_readable() -> None:
    """Bytes arriving on an idle connection flag it (httpcore then won't reuse it)."""

    hung_up = asyncio.Event()

    async def chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"surprise")
        await writer.drain()
        await reader.read()  # keep the connection open until the client hangs up
        writer.close()
        hung_up.set()

    server, port = await serve(chatty)
    async with server:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2.0)
        await until(lambda: stream.get_extra_info("is_readable"))
        assert stream.get_extra_info("is_readable") is True
        await stream.aclose()
        await hung_up.wait()
