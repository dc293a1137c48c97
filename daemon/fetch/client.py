"""`PoliteClient`: the one safe, polite HTTP client of the daemon (implements `HttpClient`).

What a `get` promises:
- Only http/https URLs, and only public addresses (or `fetch.allow_private_networks`).  The
  address is checked when the TCP connection is opened (`GuardedBackend`), on the addresses the
  name resolved to at that moment, and the connection goes to that vetted IP: no DNS-rebinding gap.
- Redirects are followed by hand, at most `max_redirects`, each hop re-checked and recorded as a
  `Hop(status, location)`.
- Timeouts: connect and read per phase, plus `timeout.total` for one exchange (headers and body);
  waiting for a politeness slot does not count against it.
- The body is capped on the wire (`max_body_bytes`) and after decompression
  (`max_decompressed_bytes`), decoding incrementally so a compression bomb is refused after
  inflating at most the cap.
- Every request start waits for a `Politeness` slot; a 429/503 with Retry-After pushes that
  domain's next start later (capped), for feed polls and article fetches alike.
- Every failure is a `FetchError` with a counted `reason`; HTTP error statuses are returned.
  The body is returned decoded, while `headers` are kept as received (Content-Encoding included).

    reason               retryable   raised for
    timeout              yes         connect/read/pool timeout, total deadline
    connect_error        yes         DNS failure, refused or reset connection
    network_error        yes         read/write error after connecting
    protocol_error       yes / no    the server broke HTTP (remote) / we could not speak it (local)
    tls_error            no          certificate or handshake failure
    proxy_error          yes         `fetch.proxy` refused or broke the CONNECT tunnel
    too_large            no          body over a cap
    too_many_redirects   no          more than `max_redirects` hops
    bad_scheme, bad_url  no          not http(s), no host, malformed
    bad_encoding         no          unknown Content-Encoding or corrupt compressed data
    blocked_address      no          `BlockedAddress`: the SSRF guard refused the target

The layers, each with one concern (the hot path of a feed poll runs through all of them):
`PoliteClient` (redirects, deadline, caps, politeness) → the transport, built in one place
(`daemon/fetch/transport/build.py`): `wire.py` (httpcore requests built without an httpx
client) → `OriginPool` (keep-alive per origin, O(1) per request; or httpcore's stock pool,
`fetch.pool = "httpcore"`) → `GuardedBackend` (resolve, vet, connect to the vetted IP; or
`TunnelBackend`: vet the same way, then CONNECT through `fetch.proxy`) → `AsyncioBackend`
(asyncio streams).  https is verified against the system's roots plus `fetch.ca_bundle`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType

import httpcore
import httpx
import structlog

from daemon import __version__
from daemon.errors import BlockedAddress, FetchError
from daemon.fetch.contract import Hop, HttpResponse, RequestKind
from daemon.fetch.decoding import BodyReader
from daemon.fetch.guard import AddressPolicy, parse_address, scheme_refusal
from daemon.fetch.hosts import Politeness
from daemon.fetch.transport.build import transport_for
from daemon.fetch.transport.guarded import GuardedTransport, Resolve, system_resolve
from daemon.fetch.transport.wire import (
    CoreSend,
    RawHeaders,
    core_request,
    decode_headers,
    encode_value,
    request_headers,
    via_httpx_transport,
)
from daemon.retry import parse_retry_after
from daemon.settings import FetchSettings

log = structlog.get_logger(__name__)

OnResponse = Callable[[HttpResponse, RequestKind], Awaitable[None]]
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT: dict[RequestKind, str] = {
    "feed": "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
    "page": "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.8, */*;q=0.5",
    "robots": "text/plain, */*;q=0.5",
}


def user_agent(settings: FetchSettings) -> str:
    """The honest User-Agent: the template filled with our version and contact URL."""
    return settings.user_agent.format(version=__version__, contact=settings.contact_url)


def _fixed_headers(settings: FetchSettings, kind: RequestKind) -> RawHeaders:
    """The fields every request of `kind` carries, in the order httpx sent them."""
    return [
        (b"Accept", ACCEPT[kind].encode("ascii")),
        (b"Accept-Encoding", b"gzip, deflate"),
        (b"Connection", b"keep-alive"),
        (b"User-Agent", encode_value(user_agent(settings))),
    ]


class PoliteClient:
    """GET one URL safely and politely; see the module docstring for the promises.

    `politeness` defaults to one built from `settings` (share ONE instance between feed polls and
    article fetches).  `on_response` is awaited with every response received, redirect hops
    included, and the request kind; its failures are logged, never raised.  `transport` replaces
    the guarded transport (tests, benchmarks); `backend` and `resolve` replace the network
    backend under the guard and the DNS lookup (the guard still runs; see `transport_for`).
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        politeness: Politeness | None = None,
        on_response: OnResponse | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        backend: httpcore.AsyncNetworkBackend | None = None,
        resolve: Resolve = system_resolve,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._policy = AddressPolicy.from_cidrs(settings.allow_private_networks)
        self._politeness = politeness or Politeness.from_settings(settings)
        self._on_response = on_response
        self._now = now
        self._transport = transport or transport_for(
            settings, self._policy, backend=backend, resolve=resolve
        )
        self._send_core: CoreSend = (
            self._transport.send_core
            if isinstance(self._transport, GuardedTransport)
            else via_httpx_transport(self._transport)
        )
        t = settings.timeout
        self._timeouts = {"connect": t.connect, "read": t.read, "write": t.read, "pool": t.total}
        self._fixed_headers = {kind: _fixed_headers(settings, kind) for kind in ACCEPT}

    @property
    def politeness(self) -> Politeness:
        """The politeness budget this client spends (share it with other fetching code)."""
        return self._politeness

    async def __aenter__(self) -> PoliteClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._transport.aclose()

    async def get(
        self, url: str, *, kind: RequestKind, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """GET `url`, following redirects; see `HttpClient.get`."""
        hops: list[Hop] = []
        current = url
        while True:
            response = await self._exchange(current, kind, headers)
            location = _redirect_target(response)
            if location is None:
                return _with_history(response, url, tuple(hops))
            hops.append(Hop(response.status, location))
            if len(hops) > self._settings.max_redirects:
                raise FetchError("too_many_redirects", f"{len(hops)} hops from {url}")
            current = location

    async def _exchange(
        self, url: str, kind: RequestKind, headers: Mapping[str, str] | None
    ) -> HttpResponse:
        parsed = self._refuse_early(url)
        async with self._politeness.slot(url):
            try:
                async with asyncio.timeout(self._settings.timeout.total):
                    response = await self._send(url, parsed, kind, headers)
            except FetchError:
                raise
            except TimeoutError:
                raise FetchError("timeout", f"total deadline: {url}", retryable=True) from None
            except Exception as exc:
                raise translate(exc, url) from exc
        self._defer_on_retry_after(response)
        await self._notify(response, kind)
        return response

    async def _send(
        self, url: str, parsed: httpx.URL, kind: RequestKind, headers: Mapping[str, str] | None
    ) -> HttpResponse:
        sent = request_headers(parsed, self._fixed_headers[kind], headers)
        reader = BodyReader(
            max_wire=self._settings.max_body_bytes,
            max_decoded=self._settings.max_decompressed_bytes,
        )
        response = await self._send_core(core_request(parsed, sent, self._timeouts))
        try:
            received = decode_headers(response.headers)
            stream = response.stream
            assert isinstance(stream, AsyncIterable)  # an async pool gives async streams
            body = await reader.read(received, stream)
        finally:
            await response.aclose()
        return HttpResponse(
            url=url,
            final_url=url,
            status=response.status,
            headers=received,
            body=body,
            fetched_at=self._now(),
            raw_request_headers=decode_headers(sent),
        )

    def _refuse_early(self, url: str) -> httpx.URL:
        """Refuse bad schemes and literal refused IPs before queueing for a slot; the parsed URL."""
        why = scheme_refusal(url)
        if why is not None:
            raise FetchError(why, url)
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchError("bad_url", f"{url}: {exc}") from exc
        address = parse_address(parsed.host)
        if address is not None and (refused := self._policy.check(address)) is not None:
            raise BlockedAddress(f"{parsed.host} ({refused})")
        return parsed

    def _defer_on_retry_after(self, response: HttpResponse) -> None:
        if response.status in (429, 503):
            delay = parse_retry_after(response.headers.get("retry-after"), now=response.fetched_at)
            if delay is not None:
                self._politeness.defer(response.final_url, delay)

    async def _notify(self, response: HttpResponse, kind: RequestKind) -> None:
        if self._on_response is None:
            return
        try:
            await self._on_response(response, kind)
        except Exception as exc:  # an archive failure must not fail the fetch
            log.warning("fetch.on_response_failed", url=response.final_url, error=repr(exc))


def _redirect_target(response: HttpResponse) -> str | None:
    location = response.headers.get("location")
    if response.status not in REDIRECT_STATUSES or not location:
        return None
    try:
        return str(httpx.URL(response.url).join(location.strip()))
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchError("bad_url", f"redirect to {location!r}: {exc}") from exc


def _with_history(response: HttpResponse, url: str, hops: tuple[Hop, ...]) -> HttpResponse:
    """The last hop's response, as the answer to `url` through `hops`."""
    return dataclasses.replace(response, url=url, final_url=response.url, redirects=hops)


# (reason, retryable) → the foreign exception types it stands for.  `translate` walks an
# exception's MRO and takes the first type found, so the most specific entry wins whatever the
# order here (`TimeoutError` is an `OSError`, `ConnectError` a `NetworkError`).
_REASONS: dict[tuple[str, bool], tuple[type[BaseException], ...]] = {
    ("timeout", True): (httpx.TimeoutException, httpcore.TimeoutException, TimeoutError),
    ("bad_scheme", False): (httpx.UnsupportedProtocol, httpcore.UnsupportedProtocol),
    ("bad_url", False): (httpx.InvalidURL,),
    ("protocol_error", True): (httpx.RemoteProtocolError, httpcore.RemoteProtocolError),
    ("protocol_error", False): (httpx.LocalProtocolError, httpcore.LocalProtocolError),
    ("proxy_error", True): (httpx.ProxyError, httpcore.ProxyError),
    ("connect_error", True): (httpx.ConnectError, httpcore.ConnectError),
    ("network_error", True): (httpx.NetworkError, httpcore.NetworkError, OSError),
    ("bad_encoding", False): (httpx.DecodingError,),
}
TRANSLATIONS: Mapping[type[BaseException], tuple[str, bool]] = {
    cls: outcome for outcome, classes in _REASONS.items() for cls in classes
}


def translate(
    exc: BaseException,
    url: str,
    table: Mapping[type[BaseException], tuple[str, bool]] = TRANSLATIONS,
) -> FetchError:
    """The most specific `FetchError` for a foreign exception raised while fetching `url`."""
    if _caused_by_ssl(exc):
        return FetchError("tls_error", f"{url}: {exc}")
    for cls in type(exc).__mro__:
        if cls in table:
            reason, retryable = table[cls]
            return FetchError(reason, f"{url}: {exc!r}", retryable=retryable)
    return FetchError("http_error", f"{url}: {exc!r}")


def _caused_by_ssl(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ssl.SSLError | ssl.CertificateError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False
