"""Run `make run` as a user would, against a local feed, and stop it with Ctrl-C.

CI's proof that the README's first command works on a fresh machine: `make run VENV=DIR`
creates the environment with only what `make run` installs, starts the daemon on the embedded
broker, polls a feed of the seed captures served on 127.0.0.1 (the shipped config's public
feeds are replaced, so nothing leaves the machine), and publishes them.  Then SIGINT goes to the
whole process group, as a terminal's Ctrl-C does, and the daemon must drain, log its summary and
release the broker's port.  Standard library only.  Usage:

    python3 scripts/smoke_run.py --venv DIR [--timeout 300]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_site(root: Path, base: str) -> int:
    """The seeds under root/seeds/ and an RSS feed of them at root/feed.xml."""
    (root / "seeds").mkdir()
    items = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        (root / "seeds" / path.name).write_bytes(path.read_bytes())
        link = f"{base}/seeds/{path.name}"
        items.append(
            f"<item><title>{path.stem}</title><link>{link}</link><guid>{link}</guid></item>"
        )
    rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>seeds</title>{"".join(items)}'
    (root / "feed.xml").write_text(rss + "</channel></rss>")
    return len(items)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(root: Path) -> ThreadingHTTPServer:
    handler = partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_config(path: Path, feed_url: str) -> None:
    path.write_text(
        "[fetch]\n"
        'allow_private_networks = ["127.0.0.1/32"]\n'
        "per_domain_min_interval = 0\n"
        "[[feeds]]\n"
        'id = "seeds"\n'
        f'url = "{feed_url}"\n'
    )


def watch(proc: subprocess.Popen[str], expected: int, deadline: float) -> list[dict[str, object]]:
    """Read JSON log lines until `expected` articles were published (or the deadline)."""
    assert proc.stderr is not None
    logs: list[dict[str, object]] = []
    for line in proc.stderr:
        print(line, end="", file=sys.stderr)
        if line.startswith("{"):
            logs.append(json.loads(line))
            if published(logs) >= expected or time.monotonic() > deadline:
                break
    return logs


def published(logs: list[dict[str, object]]) -> int:
    """Articles published, from the latest `daemon.stats` or `daemon.summary` line."""
    counts = [e for e in logs if e.get("event") in ("daemon.stats", "daemon.summary")]
    if not counts:
        return 0
    ok = [v for k, v in counts[-1].items() if k.startswith("publish_ok_article")]
    return sum(v for v in ok if isinstance(v, int))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv", required=True)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "site").mkdir()
        server = serve(root / "site")
        base = f"http://127.0.0.1:{server.server_address[1]}"
        expected = write_site(root / "site", base)
        write_config(root / "newsd.toml", f"{base}/feed.xml")
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("NEWSD_")},
            "NEWSD_CONFIG": str(root / "newsd.toml"),
            "NEWSD_STATE__DIR": str(root / "state"),
            "NEWSD_EMBEDDED_BROKER__PORT": str(port),
            "NEWSD_LOG__FORMAT": "json",
            "NEWSD_LOG__STATS_INTERVAL": "1",
        }
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"VENV={args.venv}"],
            cwd=REPO,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a terminal job
        )
        logs = watch(proc, expected, time.monotonic() + args.timeout)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        _, rest = proc.communicate(timeout=120)
        print(rest, end="", file=sys.stderr)
        logs += [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
        return verdict(logs, expected, port)


def verdict(logs: list[dict[str, object]], expected: int, port: int) -> int:
    problems = []
    if published(logs) < expected:
        problems.append(f"published {published(logs)} of {expected} seed articles")
    if not any(e.get("event") == "daemon.summary" for e in logs):
        problems.append("no daemon.summary: the daemon did not stop cleanly")
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        problems.append(f"the embedded broker still listens on {port}")
    except OSError:
        pass
    for problem in problems:
        print(f"smoke_run: {problem}", file=sys.stderr)
    print(f"smoke_run: {1 - bool(problems)} passed, {int(bool(problems))} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
