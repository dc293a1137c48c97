"""PoliteClient over IPv6 and TLS: the guard vets the IP while TLS still checks the host name."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.errors import BlockedAddress, FetchError
from daemon.fetch.client import PoliteClient
from tests.fetch.support import fetch_settings
from tests.httpserver import HttpServer, Reply


def _ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture
def server6() -> Iterator[HttpServer]:
    if not _ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    with HttpServer("::1") as running:
        yield running


async def test_ipv6_loopback_refused_by_default(server6: HttpServer) -> None:
    """http://[::1]/ is refused without an allow-list, even with 127.0.0.1/32 allowed."""
    server6.route("/a", Reply(body=b"ok"))
    async with PoliteClient(fetch_settings()) as http:
        with pytest.raises(BlockedAddress):
            await http.get(server6.url("/a"), kind="page")
    assert server6.hits() == []


async def test_ipv6_loopback_allowed_when_listed(server6: HttpServer) -> None:
    """With ::1/128 allow-listed, http://[::1]/ is fetched."""
    server6.route("/a", Reply(body=b"ok"))
    async with PoliteClient(fetch_settings(allow_private_networks=["::1/128"])) as http:
        response = await http.get(server6.url("/a"), kind="page")
    assert response.body == b"ok"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for `localhost` (made with the openssl CLI)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not available")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[HttpServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    with HttpServer(tls=context) as running:
        yield running


async def test_untrusted_certificate_is_tls_error(tls_server: HttpServer) -> None:
    """A self-signed certificate fails verification: FetchError('tls_error'), not retryable."""
    tls_server.route("/a", Reply(body=b"ok"))
    async with PoliteClient(fetch_settings()) as http:
        with pytest.raises(FetchError) as caught:
            await http.get(tls_server.url("/a", host="localhost"), kind="page")
    assert caught.value.reason == "tls_error" and not caught.value.retryable


async def test_tls_verifies_the_host_name_while_connecting_to_the_vetted_ip(
    tls_server: HttpServer, certificate: tuple[Path, Path]
) -> None:
    """https://localhost/ connects to the vetted 127.0.0.1, and the certificate is checked
    against `localhost` (SNI), so it verifies; the same server reached as 127.0.0.1 does not."""
    tls_server.route("/a", Reply(body=b"ok"))
    async with PoliteClient(fetch_settings(ca_bundle=certificate[0])) as http:
        response = await http.get(tls_server.url("/a", host="localhost"), kind="page")
        with pytest.raises(FetchError) as caught:
            await http.get(tls_server.url("/a"), kind="page")
    assert response.body == b"ok"
    assert caught.value.reason == "tls_error"
