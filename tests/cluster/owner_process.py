"""A dedup owner as its own process, for the tests that SIGKILL it: `python -m
tests.cluster.owner_process SETTINGS.json` (the JSON holds `load()` overrides)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from daemon.cluster.dedupowner import DedupOwner
from daemon.observability.metrics import Metrics
from daemon.settings import Settings, load
from daemon.sinks.kafka import KafkaSink


async def main(settings: Settings) -> None:
    sink = KafkaSink(settings.kafka, settings.kafka.bootstrap_servers or "")
    await sink.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await DedupOwner(settings, sink, Metrics()).run(stop)
    finally:
        await sink.close()


if __name__ == "__main__":
    asyncio.run(main(load(None, **json.loads(Path(sys.argv[1]).read_text()))))
