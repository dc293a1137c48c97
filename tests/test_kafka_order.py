"""Per-key order on Kafka under retries: an original is never acknowledged after its reposts.

Against the real test broker behind a loopback proxy that loses every request in flight
(`tests/kafkaproxy.py`): the original's first send times out and is retried, while its reposts
are handed to the sink right behind it.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from daemon.errors import SinkError
from daemon.settings import load
from daemon.sinks.base import OutMessage
from daemon.sinks.kafka import KafkaSink
from tests.conftest import consume
from tests.kafkaproxy import CuttableProxy, start_broker_behind


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"broker on {port} not ready")


@pytest.fixture
async def proxied() -> AsyncIterator[tuple[CuttableProxy, KafkaSink]]:
    proxy = CuttableProxy(upstream=0)
    proc, port = start_broker_behind(proxy.port)
    proxy.upstream = port
    try:
        await asyncio.to_thread(_wait_port, port)
        await proxy.start()
        settings = load(None, kafka={
            "bootstrap_servers": f"127.0.0.1:{proxy.port}", "enable_idempotence": False,
            "linger_ms": 0, "request_timeout_ms": 1000, "send_retries": 8,
            "topics": {"prefix": "order.", "partitions": 1},
        })  # fmt: skip
        sink = KafkaSink(settings.kafka, f"127.0.0.1:{proxy.port}")
        await sink.start()
        yield proxy, sink
        await sink.close()
    finally:
        await proxy.close()
        proc.terminate()
        proc.wait(timeout=10)


def message(key: str, value: str) -> OutMessage:
    return OutMessage("articles", key.encode(), value.encode(), ())


async def test_an_original_lands_before_its_reposts_when_its_send_is_retried(proxied):
    """The original's request is lost (connections cut, requests time out) and retried; its
    reposts, handed over right behind it, still land after it in the partition, and a
    message with another key is not held up."""
    proxy, sink = proxied
    await (await sink.send(message("warm-up", "0")))
    proxy.cut()
    original = await sink.send(message("cluster", "original"))
    await asyncio.sleep(1.5)  # past request_timeout_ms: the first attempt failed
    proxy.restore()
    reposts = [await sink.send(message("cluster", f"repost-{i}")) for i in range(3)]
    other = await sink.send(message("other", "x"))
    await asyncio.wait_for(asyncio.gather(original, *reposts, other), 60)
    records = await consume(f"127.0.0.1:{proxy.port}", "order.newsd.articles.v1", expect=5)
    in_cluster = [r.value.decode() for r in records if r.key == b"cluster"]
    assert in_cluster.index("original") < in_cluster.index("repost-0")
    firsts = [v for i, v in enumerate(in_cluster) if v not in in_cluster[:i]]
    assert firsts == ["original", "repost-0", "repost-1", "repost-2"]


async def test_reposts_fail_when_their_original_fails_for_good(proxied):
    """When the original's retries run out, its reposts are not published either: they fail
    with `kafka_predecessor_failed`, so the pipeline redoes all of them, in order."""
    proxy, sink = proxied
    sink.settings = sink.settings.model_copy(update={"send_retries": 0})
    await (await sink.send(message("warm-up", "0")))
    proxy.cut()
    original = await sink.send(message("cluster", "original"))
    repost = await sink.send(message("cluster", "repost"))
    with pytest.raises(SinkError):
        await asyncio.wait_for(original, 30)
    with pytest.raises(SinkError) as failed:
        await asyncio.wait_for(repost, 30)
    assert failed.value.reason == "kafka_predecessor_failed"
    proxy.restore()
