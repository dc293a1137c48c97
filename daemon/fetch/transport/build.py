"""The one way to build the HTTP transport of the daemon: `transport_for(settings)`.

    fetch.pool = "newsd"     `OriginPool` (keep-alive per origin, O(1) per request) over
                             `AsyncioBackend` streams: the default, 2 to 4x less CPU per poll
    fetch.pool = "httpcore"  httpcore's stock `AsyncConnectionPool` over its stock (anyio)
                             backend: for debugging, and for judging a new httpcore release

Either way every connection goes through `GuardedBackend` (the SSRF guard), or through
`TunnelBackend` (the same vetting, then a CONNECT tunnel) when `fetch.proxy` is set, and https
is verified against the system's roots plus `fetch.ca_bundle`.
"""

from __future__ import annotations

import ssl

import httpcore
import httpx

from daemon.errors import ConfigError
from daemon.fetch.guard import AddressPolicy
from daemon.fetch.transport.guarded import (
    GuardedBackend,
    GuardedTransport,
    Pool,
    Resolve,
    system_resolve,
)
from daemon.fetch.transport.pool import OriginPool
from daemon.fetch.transport.proxy import ProxyURL, TunnelBackend
from daemon.fetch.transport.streams import AsyncioBackend
from daemon.settings import FetchSettings

KEEPALIVE_EXPIRY = 30.0  # seconds an idle connection is kept


def transport_for(
    settings: FetchSettings,
    policy: AddressPolicy,
    *,
    backend: httpcore.AsyncNetworkBackend | None = None,
    resolve: Resolve = system_resolve,
) -> GuardedTransport:
    """The guarded transport `settings` ask for; `backend` replaces the network backend under
    the guard (tests, benchmarks), `resolve` the DNS lookup (the guard still runs)."""
    stock = settings.pool == "httpcore"
    inner = backend or (httpcore.AnyIOBackend() if stock else AsyncioBackend())
    guarded = GuardedBackend(policy, inner=inner, resolve=resolve)
    connect = _through_proxy(settings, guarded, inner)
    return GuardedTransport(_pool(settings, connect, tls_context(settings), stock=stock))


def _pool(
    settings: FetchSettings,
    backend: httpcore.AsyncNetworkBackend,
    context: ssl.SSLContext,
    *,
    stock: bool,
) -> Pool:
    # Keep-alive up to the concurrency cap: with few hosts every in-flight connection can be
    # reused (OriginPool pays O(1) per idle connection); with many, idle ones expire in 30 s.
    size = settings.global_concurrency
    if stock:
        return httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=size,
            max_keepalive_connections=size,
            keepalive_expiry=KEEPALIVE_EXPIRY,
            network_backend=backend,
        )
    return OriginPool(
        backend,
        ssl_context=context,
        max_connections=size,
        max_keepalive=size,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )


def _through_proxy(
    settings: FetchSettings, guarded: GuardedBackend, inner: httpcore.AsyncNetworkBackend
) -> httpcore.AsyncNetworkBackend:
    """The guarded backend, or a CONNECT tunnel through `fetch.proxy` that vets the same way."""
    if settings.proxy is None:
        return guarded
    return TunnelBackend(ProxyURL.parse(settings.proxy), guarded, inner)


def tls_context(settings: FetchSettings) -> ssl.SSLContext:
    """The system's trusted roots, plus `fetch.ca_bundle` when set (`ConfigError` if unusable)."""
    context = httpx.create_ssl_context(trust_env=False)
    if settings.ca_bundle is not None:
        try:
            context.load_verify_locations(cafile=settings.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                "fetch.ca_bundle", f"fetch.ca_bundle: {settings.ca_bundle}: {exc}"
            ) from None
    return context
