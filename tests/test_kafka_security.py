"""Kafka security: TLS through a real TLS listener in front of the test broker, and the
start-up checks of the TLS and SASL settings (each misconfiguration names its key)."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import trustme
from aiokafka import AIOKafkaConsumer

from daemon.cli import main
from daemon.errors import ConfigError, SinkError
from daemon.settings import KafkaSettings
from daemon.sinks.base import OutMessage
from daemon.sinks.kafka import KafkaSink, client_options, topic_names
from daemon.sinks.kafka_security import ClientCredentialsToken, connection_options
from tests.httpserver import Hit, HttpServer, Reply
from tests.tlsproxy import TlsKafka


@pytest.fixture(scope="module")
def tls_kafka(ca: trustme.CA) -> Iterator[TlsKafka]:
    """The test broker behind a TLS listener whose certificate `ca` signed for 127.0.0.1, and
    which requires a client certificate signed by `ca` (mutual TLS)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    with TlsKafka(context) as kafka:
        yield kafka


def pem_files(tmp_path: Path, ca: trustme.CA) -> dict[str, Path]:
    client = ca.issue_cert("newsd-client")
    files = {
        "ssl_cafile": tmp_path / "ca.pem",
        "ssl_certfile": tmp_path / "client.pem",
        "ssl_keyfile": tmp_path / "client.key",
    }
    ca.cert_pem.write_to_path(str(files["ssl_cafile"]))
    client.cert_chain_pems[0].write_to_path(str(files["ssl_certfile"]))
    client.private_key_pem.write_to_path(str(files["ssl_keyfile"]))
    return files


def kafka(bootstrap: str, prefix: str, **security: Any) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=bootstrap,
        enable_idempotence=False,
        linger_ms=0,
        topics={"prefix": prefix, "partitions": 1},
        **security,
    )


async def test_tls_with_the_right_ca_and_client_certificate_publishes(
    tmp_path: Path, ca: trustme.CA, tls_kafka: TlsKafka, topic_prefix: str
) -> None:
    """With the CA bundle and a client certificate, topics are created and an event is
    published and read back, every connection through the TLS listener (hostname checked)."""
    settings = kafka(
        tls_kafka.bootstrap_servers,
        topic_prefix,
        security_protocol="SSL",
        **pem_files(tmp_path, ca),
    )
    assert settings.ssl_check_hostname
    sink = KafkaSink(settings, tls_kafka.bootstrap_servers)
    await sink.start()
    try:
        delivery = await sink.send(OutMessage("articles", b"k", b'{"tls": true}', ()))
        await delivery
    finally:
        await sink.close()
    consumer = AIOKafkaConsumer(
        topic_names(settings.topics)["articles"],
        **client_options(settings, tls_kafka.bootstrap_servers),
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert record.value == b'{"tls": true}'
    assert tls_kafka.proxy.handshakes >= 2


async def test_tls_with_a_wrong_ca_fails_at_once_with_a_clear_error(
    tmp_path: Path, ca: trustme.CA, tls_kafka: TlsKafka, topic_prefix: str
) -> None:
    """A CA bundle that did not sign the broker's certificate: `start()` raises a final
    SinkError saying the certificate failed verification and which settings to check."""
    files = pem_files(tmp_path, ca)
    trustme.CA().cert_pem.write_to_path(str(files["ssl_cafile"]))
    sink = KafkaSink(
        kafka(tls_kafka.bootstrap_servers, topic_prefix, security_protocol="SSL", **files),
        tls_kafka.bootstrap_servers,
    )
    with pytest.raises(SinkError) as caught:
        await sink.start()
    assert caught.value.reason == "kafka_tls" and not caught.value.retryable
    assert "certificate verify failed" in str(caught.value)
    assert "kafka.ssl_cafile" in str(caught.value)


async def test_a_certificate_for_another_host_is_refused_unless_the_check_is_off(
    tmp_path: Path, ca: trustme.CA, topic_prefix: str
) -> None:
    """A broker whose certificate (signed by the trusted CA) names another host fails the
    default hostname check with a clear error; `ssl_check_hostname = false` accepts it."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("kafka.internal").configure_cert(context)
    files = pem_files(tmp_path, ca)
    with TlsKafka(context) as elsewhere:
        boot = elsewhere.bootstrap_servers
        strict = KafkaSink(kafka(boot, topic_prefix, security_protocol="SSL", **files), boot)
        with pytest.raises(SinkError) as caught:
            await strict.start()
        relaxed = KafkaSink(
            kafka(boot, topic_prefix, security_protocol="SSL", ssl_check_hostname=False, **files),
            boot,
        )
        await relaxed.start()
        try:
            await (await relaxed.send(OutMessage("articles", b"k", b"{}", ())))
        finally:
            await relaxed.close()
    assert caught.value.reason == "kafka_tls"
    assert "mismatch, certificate is not valid for '127.0.0.1'" in str(caught.value)


def test_hostname_check_is_on_by_default_in_the_context(tmp_path: Path, ca: trustme.CA) -> None:
    """Hostname verification is on by default; `ssl_check_hostname = false` turns it off."""
    files = pem_files(tmp_path, ca)
    on = connection_options(kafka("x:1", "", security_protocol="SSL", **files))["ssl_context"]
    off = connection_options(
        kafka("x:1", "", security_protocol="SSL", ssl_check_hostname=False, **files)
    )["ssl_context"]
    assert on.check_hostname and on.verify_mode == ssl.CERT_REQUIRED
    assert not off.check_hostname and off.verify_mode == ssl.CERT_REQUIRED


def test_secrets_come_from_files_with_the_trailing_newline_dropped(tmp_path: Path) -> None:
    """`sasl_password_file` is read (as Kubernetes mounts a Secret), one newline dropped."""
    secret = tmp_path / "password"
    secret.write_text("s3cr3t\n")
    options = connection_options(
        kafka(
            "x:1",
            "",
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="newsd",
            sasl_password_file=secret,
        )
    )
    assert options["sasl_plain_password"] == "s3cr3t"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"


MISCONFIGURED = [
    ({"security_protocol": "SSL", "ssl_cafile": "missing.pem"}, "kafka.ssl_cafile"),
    ({"security_protocol": "SSL", "ssl_cafile": "garbage"}, "kafka.ssl_cafile"),
    ({"ssl_cafile": "ca"}, "kafka.ssl_cafile"),
    ({"security_protocol": "SSL", "ssl_keyfile": "key"}, "kafka.ssl_keyfile"),
    ({"security_protocol": "SSL", "ssl_certfile": "garbage"}, "kafka.ssl_certfile"),
    ({"security_protocol": "SASL_SSL"}, "kafka.sasl_mechanism"),
    ({"sasl_mechanism": "PLAIN"}, "kafka.sasl_mechanism"),
    ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"}, "kafka.sasl_username"),
    (
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256"}
        | {"sasl_username": "u"},
        "kafka.sasl_password",
    ),
    (
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u"}
        | {"sasl_password": "p", "sasl_password_file": "ca"},
        "kafka.sasl_password_file",
    ),
    (
        {"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER"},
        "kafka.sasl_oauth_token_url",
    ),
    (
        {"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER"}
        | {"sasl_oauth_token_url": "https://idp.example/token", "sasl_oauth_client_id": "c"},
        "kafka.sasl_oauth_client_secret",
    ),
]


@pytest.mark.parametrize(("given", "key"), MISCONFIGURED, ids=[k for _, k in MISCONFIGURED])
def test_each_misconfiguration_names_its_key(
    tmp_path: Path, ca: trustme.CA, given: dict[str, Any], key: str
) -> None:
    """A missing or unreadable file, a PEM that does not load, a setting the protocol would
    ignore, a missing or doubly given credential: `ConfigError` with the key path."""
    ca.cert_pem.write_to_path(str(tmp_path / "ca"))
    (tmp_path / "key").write_text("not a key")
    (tmp_path / "garbage").write_text("not PEM at all")
    files = {"ssl_cafile", "ssl_certfile", "ssl_keyfile", "sasl_password_file"}
    values = {k: tmp_path / v if k in files else v for k, v in given.items()}
    with pytest.raises(ConfigError) as caught:
        connection_options(kafka("x:1", "", **values))
    assert caught.value.reason == key
    assert key in str(caught.value)


def test_a_misconfigured_run_exits_2_naming_the_key(tmp_path: Path, capsys) -> None:
    """`newsd run` with a CA bundle that does not exist stops before connecting: exit 2, the
    key in the message, no traceback."""
    config = tmp_path / "newsd.toml"
    config.write_text(
        '[kafka]\nbootstrap_servers = "127.0.0.1:9"\nsecurity_protocol = "SSL"\n'
        f'ssl_cafile = "{tmp_path / "nope.pem"}"\n'
    )
    assert main(["run", "--once", "--config", str(config), "--state", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "kafka.ssl_cafile" in err and "nope.pem" in err and "Traceback" not in err


def token_reply(expires_in: int) -> Any:
    def answer(hit: Hit) -> Reply:
        body = {"access_token": f"tok-{len(hit.body)}-{expires_in}", "expires_in": expires_in}
        return Reply(body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})

    return answer


async def test_oauthbearer_tokens_come_from_a_client_credentials_grant() -> None:
    """OAUTHBEARER settings give aiokafka a token provider that posts a client-credentials
    grant with HTTP Basic client authentication and the scope, and reuses the token while it
    is valid."""
    with HttpServer() as idp:
        idp.route("/token", token_reply(3600))
        options = connection_options(
            KafkaSettings(
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="OAUTHBEARER",
                sasl_oauth_token_url=idp.url("/token"),
                sasl_oauth_client_id="newsd",
                sasl_oauth_client_secret="sh!",
                sasl_oauth_scope="kafka",
            )
        )
        provider = options["sasl_oauth_token_provider"]
        first = await provider.token()
        assert await provider.token() == first
        hits = idp.hits("/token")
    assert first.startswith("tok-") and len(hits) == 1
    assert hits[0].method == "POST"
    assert parse_qs(hits[0].body.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["kafka"],
    }
    assert hits[0].headers["authorization"] == "Basic " + base64.b64encode(b"newsd:sh!").decode()


async def test_an_expiring_token_is_renewed_and_a_failing_endpoint_is_a_sink_error() -> None:
    """A token valid for less than the refresh margin is fetched again on the next call; an
    endpoint answering 401 raises a retryable SinkError (aiokafka reconnects)."""
    with HttpServer() as idp:
        idp.route("/token", token_reply(10))
        idp.route("/denied", Reply(status=401, body=b'{"error": "invalid_client"}'))
        fresh = ClientCredentialsToken(idp.url("/token"), "c", "s")
        await fresh.token()
        await fresh.token()
        assert len(idp.hits("/token")) == 2
        with pytest.raises(SinkError) as caught:
            await ClientCredentialsToken(idp.url("/denied"), "c", "s").token()
    assert caught.value.reason == "kafka_oauth" and caught.value.retryable
