"""A small schema registry on 127.0.0.1 speaking the Confluent Schema Registry REST API.

Karapace (the Python implementation) is not installable from the package index here, so the
tests run newsd against this stand-in: the subset of the API newsd uses, with the registry's
status codes and bodies (`POST /subjects/<s>/versions`, `POST /compatibility/subjects/<s>/
versions/latest`, `GET /subjects`, `GET /subjects/<s>/versions/latest`).  Its compatibility
rule is FULL, decided by `daemon.schemacompat` (the rules docs/events.md promises).

    with SchemaRegistry() as registry:
        registry.preload("t.articles-value", schema_text)
        ... registry.url ...
        registry.subjects["t.articles-value"]  # [(id, schema text), ...]
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from daemon.schemacompat import incompatibilities

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistry:
    """Subjects → versions in memory; ids are global and reused for an identical schema."""

    def __init__(self) -> None:
        self.subjects: dict[str, list[tuple[int, str]]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> SchemaRegistry:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def preload(self, subject: str, schema: str) -> int:
        """Register `schema` under `subject` without any check (an earlier producer's)."""
        with self._lock:
            return self._add(subject, schema)

    def register(self, subject: str, schema: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            problems = self._problems(subject, schema)
            if problems:
                message = (
                    "Schema being registered is incompatible with an earlier schema for "
                    f"subject {subject}: {problems}"
                )
                return 409, {"error_code": 409, "message": message}
            return 200, {"id": self._add(subject, schema)}

    def compatibility(self, subject: str, schema: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if subject not in self.subjects:
                return 404, {"error_code": 40401, "message": f"Subject '{subject}' not found."}
            problems = self._problems(subject, schema)
            return 200, {"is_compatible": not problems, "messages": problems}

    def _problems(self, subject: str, schema: str) -> list[str]:
        versions = self.subjects.get(subject)
        if not versions:
            return []
        return incompatibilities(json.loads(versions[-1][1]), json.loads(schema))

    def _add(self, subject: str, schema: str) -> int:
        schema_id = self._ids.setdefault(schema, len(self._ids) + 1)
        versions = self.subjects.setdefault(subject, [])
        if all(existing != schema for _, existing in versions):
            versions.append((schema_id, schema))
        return schema_id


def _handler(registry: SchemaRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = self._parts()
            registry.requests.append(("GET", self.path))
            if parts == ["subjects"]:
                self._reply(200, sorted(registry.subjects))
            elif len(parts) == 4 and parts[0] == "subjects" and parts[2:] == ["versions", "latest"]:
                versions = registry.subjects.get(parts[1])
                if not versions:
                    self._reply(404, {"error_code": 40401, "message": "Subject not found."})
                    return
                schema_id, schema = versions[-1]
                body = {"subject": parts[1], "version": len(versions), "id": schema_id}
                self._reply(200, {**body, "schema": schema, "schemaType": "JSON"})
            else:
                self._reply(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

        def do_POST(self) -> None:
            parts = self._parts()
            registry.requests.append(("POST", self.path))
            length = int(self.headers.get("content-length") or 0)
            payload = json.loads(self.rfile.read(length) or b"{}")
            if payload.get("schemaType") != "JSON" or not isinstance(payload.get("schema"), str):
                self._reply(422, {"error_code": 42201, "message": "Invalid schema"})
            elif len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
                self._reply(*registry.register(parts[1], payload["schema"]))
            elif len(parts) == 5 and parts[0] == "compatibility":
                self._reply(*registry.compatibility(parts[2], payload["schema"]))
            else:
                self._reply(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

        def _parts(self) -> list[str]:
            return [unquote(p) for p in urlsplit(self.path).path.split("/") if p]

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", MEDIA_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
