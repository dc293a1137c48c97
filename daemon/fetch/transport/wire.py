"""Requests and responses at the httpcore level, built without an `httpx.AsyncClient`.

`PoliteClient` does its own redirects, timeouts, caps and decoding, so the client layer of httpx
(request building, auth, cookies, redirect and event-hook machinery, response models) was pure
per-request overhead.  URLs are still parsed (IDNA, percent-encoding) by `httpx.URL`; headers are
sent as httpx would send them (Host, Accept, Accept-Encoding, Connection, User-Agent, then the
caller's) and received as httpx would present them (lower-case names, repeated fields joined by
", ", values decoded as ASCII, else UTF-8, else Latin-1).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

import httpcore
import httpx

RawHeaders = list[tuple[bytes, bytes]]
CoreSend = Callable[[httpcore.Request], Awaitable[httpcore.Response]]


def encode_value(value: str) -> bytes:
    """A header value as bytes: Latin-1 (RFC 9110 obs-text), else UTF-8.

    httpx refused non-ASCII values outright, so a feed whose ETag had a non-ASCII byte failed
    every conditional poll; now a Latin-1 validator goes back byte for byte.
    """
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def decode_value(value: bytes) -> str:
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        pass
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def decode_headers(raw: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """Received header fields by lower-case name; a repeated field's values joined by ", "."""
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = decode_value(value)
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def request_headers(
    url: httpx.URL, fixed: RawHeaders, extra: Mapping[str, str] | None
) -> RawHeaders:
    """Host first, then the `fixed` fields, then the caller's (which replace fixed ones)."""
    headers: RawHeaders = [(b"Host", url.netloc)]
    if not extra:
        return headers + fixed
    replaced = {name.lower().encode("ascii") for name in extra}
    headers += [(n, v) for n, v in fixed if n.lower() not in replaced]
    headers += [(name.encode("ascii"), encode_value(value)) for name, value in extra.items()]
    return headers


def core_request(
    url: httpx.URL, headers: RawHeaders, timeouts: Mapping[str, float | None]
) -> httpcore.Request:
    """A body-less GET of `url` with per-phase `timeouts` (connect, read, write, pool)."""
    return httpcore.Request(
        b"GET",
        httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
        headers=headers,
        extensions={"timeout": timeouts},
    )


def via_httpx_transport(transport: httpx.AsyncBaseTransport) -> CoreSend:
    """Send httpcore requests through any httpx transport (e.g. `httpx.MockTransport`)."""

    async def send(request: httpcore.Request) -> httpcore.Response:
        core_url = request.url
        url = httpx.URL(
            scheme=core_url.scheme.decode("ascii"),
            host=core_url.host.decode("ascii"),
            port=core_url.port,
            raw_path=core_url.target,
        )
        response = await transport.handle_async_request(
            httpx.Request("GET", url, headers=request.headers, extensions=request.extensions)
        )
        return httpcore.Response(
            response.status_code,
            headers=response.headers.raw,
            content=response.stream,
            extensions=response.extensions,
        )

    return send
