"""How newsd connects to a secured Kafka: TLS and SASL options for aiokafka, checked up front.

    security_protocol   TLS (ssl_* settings)              SASL (sasl_* settings)
    PLAINTEXT           -                                 -
    SSL                 CA bundle, client cert/key        -
    SASL_PLAINTEXT      -                                 PLAIN, SCRAM-SHA-256/512, OAUTHBEARER
    SASL_SSL            CA bundle, client cert/key        PLAIN, SCRAM-SHA-256/512, OAUTHBEARER

Hostname verification is on unless `kafka.ssl_check_hostname = false`.  Every secret can be
given inline or as a `*_file` setting (how Docker and Kubernetes mount secrets; one trailing
newline is dropped), never both.  `connection_options()` runs when a sink or consumer is built,
so a misconfiguration is a `ConfigError` naming its key (exit code 2) before any connection:
a missing or unreadable file, a certificate or key that does not load, a setting that the chosen
protocol would ignore, a missing credential.

OAUTHBEARER uses the client-credentials grant (RFC 6749 §4.4): `ClientCredentialsToken` posts
to `sasl_oauth_token_url` with HTTP Basic client authentication and caches the access token
until shortly before it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
from aiokafka.abc import AbstractTokenProvider
from pydantic import SecretStr

from daemon.errors import ConfigError, SinkError
from daemon.settings import KafkaSettings

TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
_TLS_KEYS = ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_key_password")
_REFRESH_MARGIN = 30.0  # seconds before expiry a cached token is replaced


def connection_options(settings: KafkaSettings) -> dict[str, Any]:
    """aiokafka keyword arguments for the security settings; `ConfigError` when inconsistent."""
    protocol = settings.security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in TLS_PROTOCOLS:
        options["ssl_context"] = tls_context(settings)
    else:
        _refuse_unused_tls(settings)
    if protocol in SASL_PROTOCOLS:
        options |= sasl_options(settings)
    elif settings.sasl_mechanism:
        raise _bad("kafka.sasl_mechanism", f"is set but kafka.security_protocol is {protocol}")
    return options


def _refuse_unused_tls(settings: KafkaSettings) -> None:
    for key in _TLS_KEYS:
        if getattr(settings, key) is not None:
            raise _bad(
                f"kafka.{key}",
                f"is set but kafka.security_protocol is {settings.security_protocol} "
                "(use SSL or SASL_SSL)",
            )


def tls_context(settings: KafkaSettings) -> ssl.SSLContext:
    """A client TLS context: system or `ssl_cafile` roots, optional client certificate."""
    cafile = _readable(settings.ssl_cafile, "kafka.ssl_cafile")
    try:
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except (ssl.SSLError, OSError) as exc:
        raise _bad("kafka.ssl_cafile", f"{cafile}: not a PEM CA bundle ({exc})") from None
    context.check_hostname = settings.ssl_check_hostname
    if settings.ssl_keyfile and not settings.ssl_certfile:
        raise _bad("kafka.ssl_keyfile", "is set without kafka.ssl_certfile")
    certfile = _readable(settings.ssl_certfile, "kafka.ssl_certfile")
    if certfile is not None:
        keyfile = _readable(settings.ssl_keyfile, "kafka.ssl_keyfile")
        password = secret(settings, "ssl_key_password")
        try:
            context.load_cert_chain(certfile, keyfile, password)
        except (ssl.SSLError, OSError) as exc:
            key = "kafka.ssl_keyfile" if keyfile else "kafka.ssl_certfile"
            raise _bad(key, f"client certificate/key do not load: {exc}") from None
    return context


def sasl_options(settings: KafkaSettings) -> dict[str, Any]:
    """The SASL part of the options for `kafka.sasl_mechanism`."""
    mechanism = settings.sasl_mechanism
    if mechanism is None:
        raise _bad("kafka.sasl_mechanism", f"is required with {settings.security_protocol}")
    if mechanism == "OAUTHBEARER":
        return {"sasl_mechanism": mechanism, "sasl_oauth_token_provider": _oauth(settings)}
    if not settings.sasl_username:
        raise _bad("kafka.sasl_username", f"is required with {mechanism}")
    password = secret(settings, "sasl_password")
    if password is None:
        raise _bad("kafka.sasl_password", f"(or sasl_password_file) required: {mechanism}")
    return {
        "sasl_mechanism": mechanism,
        "sasl_plain_username": settings.sasl_username,
        "sasl_plain_password": password,
    }


def _oauth(settings: KafkaSettings) -> ClientCredentialsToken:
    for key in ("sasl_oauth_token_url", "sasl_oauth_client_id"):
        if not getattr(settings, key):
            raise _bad(f"kafka.{key}", "is required with OAUTHBEARER")
    url = str(settings.sasl_oauth_token_url)
    if not url.lower().startswith(("https://", "http://")):
        raise _bad("kafka.sasl_oauth_token_url", f"{url!r} is not an http(s) URL")
    client_secret = secret(settings, "sasl_oauth_client_secret")
    if client_secret is None:
        raise _bad(
            "kafka.sasl_oauth_client_secret", "(or sasl_oauth_client_secret_file) is required"
        )
    verify = tls_context(settings) if settings.ssl_cafile else True
    return ClientCredentialsToken(
        url,
        str(settings.sasl_oauth_client_id),
        client_secret,
        scope=settings.sasl_oauth_scope,
        verify=verify,
    )


def secret(settings: KafkaSettings, key: str) -> str | None:
    """The value of secret `key`, inline or from `<key>_file`; both set is a `ConfigError`."""
    inline: SecretStr | None = getattr(settings, key)
    path: Path | None = getattr(settings, f"{key}_file")
    if inline is not None and path is not None:
        raise _bad(f"kafka.{key}_file", f"set only one of kafka.{key} and kafka.{key}_file")
    if path is not None:
        readable = _readable(path, f"kafka.{key}_file")
        assert readable is not None
        return readable.read_text(encoding="utf-8").removesuffix("\n")
    return inline.get_secret_value() if inline is not None else None


def _readable(path: Path | None, key: str) -> Path | None:
    if path is None:
        return None
    try:
        with path.open("rb"):
            return path
    except OSError as exc:
        raise _bad(key, f"{path}: {exc.strerror or exc}") from None


class ClientCredentialsToken(AbstractTokenProvider):  # type: ignore[misc]
    """An OAuth 2.0 access token from a client-credentials grant, cached until near expiry.

    A token endpoint that fails or answers without `access_token` raises `SinkError`
    (`kafka_oauth`, retryable: aiokafka reconnects and asks again).
    """

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._scope = scope
        self._verify = verify
        self._timeout = timeout
        self._token: str | None = None
        self._expires = 0.0

    async def token(self) -> str:
        """The cached token, or a new one when it expires within 30 s."""
        if self._token is None or time.monotonic() >= self._expires - _REFRESH_MARGIN:
            self._token, lifetime = await self._fetch()
            self._expires = time.monotonic() + lifetime
        return self._token

    async def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"} | (
            {"scope": self._scope} if self._scope else {}
        )
        try:
            async with httpx.AsyncClient(verify=self._verify, timeout=self._timeout) as client:
                response = await client.post(self.url, data=form, auth=self._auth)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SinkError("kafka_oauth", f"{self.url}: {exc}", retryable=True) from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise SinkError("kafka_oauth", f"{self.url}: no access_token", retryable=True)
        return token, float(body.get("expires_in") or 3600)


async def tls_preflight(options: dict[str, Any], bootstrap: str, *, timeout: float = 10.0) -> None:
    """Handshake with the first reachable bootstrap server when TLS is on, so that a broker
    certificate we do not trust is one clear, final `SinkError` (`kafka_tls`) instead of
    aiokafka's silent reconnect loop.  Unreachable servers are left to the normal retries."""
    context = options.get("ssl_context")
    if context is None:
        return
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            async with asyncio.timeout(timeout):
                _, writer = await asyncio.open_connection(
                    host.strip("[]"), int(port), ssl=context, server_hostname=host.strip("[]")
                )
        except ssl.SSLError as exc:
            raise SinkError(
                "kafka_tls",
                f"{server}: TLS handshake failed: {_why(exc)} "
                "(check kafka.ssl_cafile, kafka.ssl_certfile, kafka.ssl_check_hostname)",
            ) from exc
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
        return


def _why(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    return str(exc)


def _bad(key: str, message: str) -> ConfigError:
    return ConfigError(key, f"{key}: {message}")
