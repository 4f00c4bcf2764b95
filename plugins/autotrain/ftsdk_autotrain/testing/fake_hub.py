"""A small stateful fake of the Hugging Face Hub HTTP API, on 127.0.0.1, for ``HF_ENDPOINT``.

It answers what AutoTrain's hosted Spaces backend and ``datasets.push_to_hub`` call
(``huggingface_hub`` 0.27): repo creation, pre-upload (every file "regular", so no LFS),
commits, Space secrets, sleep time, YAML validation, ``whoami`` and a Space's runtime
stage, and records every request (method, path, JSON body, whether a bearer token came) so a
test can assert the sequence. ``GET /api/agent-harnesses``, which ``huggingface_hub`` 1.x+
fetches by itself once per process to fill its user agent, is answered (an empty registry) and
counted in :attr:`FakeHub.registry_fetches`, not among the calls. Unknown GETs answer 404 as
the Hub does::

    with FakeHub() as hub:
        env["HF_ENDPOINT"] = hub.url
        ...
        assert ("POST", "/api/repos/create") in hub.calls()
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeHub"]


class FakeHub:
    """The fake Hub server; a context manager that starts and stops it."""

    def __init__(self, user: str = "ftsdk-user") -> None:
        self.user = user
        self.requests: list[dict[str, Any]] = []
        self.registry_fetches = 0
        """``GET /api/agent-harnesses``: huggingface_hub's own, not the caller's."""
        self.space_stage = "RUNNING"
        self.repos: dict[str, str] = {}
        """Created repos: ``"<type>s/<owner>/<name>"`` → type."""
        self.models: set[str] = set()
        """Model repos that exist (``owner/name``), e.g. a model a Space pushed."""
        self.files: dict[str, dict[str, bytes]] = {}
        """Committed files per repo key: path → content."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def runtime(self) -> dict[str, Any]:
        """A Space's runtime, as ``GET /api/spaces/{id}/runtime`` answers."""
        return {
            "stage": self.space_stage,
            "hardware": {"current": None, "requested": "a10g-large"},
            "storage": None,
            "gcTimeout": 604800,
        }

    def calls(self) -> list[tuple[str, str]]:
        """(method, path) of every request, in order."""
        return [(r["method"], r["path"]) for r in self.requests]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.headers.get("Transfer-Encoding") == "chunked":
                    raw = self._chunked()
                if "ndjson" in (self.headers.get("Content-Type") or ""):
                    return [json.loads(line) for line in raw.splitlines() if line.strip()]
                try:
                    return json.loads(raw) if raw else None
                except ValueError:
                    return None

            def _chunked(self) -> bytes:
                data = b""
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()

            def _send(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if status == 404:
                    self.send_header("X-Error-Code", "RepoNotFound")
                self.end_headers()
                self.wfile.write(body)

            def _record(self, body: Any) -> None:
                auth = self.headers.get("Authorization") or ""
                hub.requests.append(
                    {
                        "method": self.command,
                        "path": self.path.split("?")[0],
                        "body": body,
                        "authorization": auth,
                    }
                )

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/api/agent-harnesses":
                    hub.registry_fetches += 1
                    self._send(200, {"standardEnvVars": [], "harnesses": {}})
                    return
                self._record(None)
                parts = path.strip("/").split("/")
                data = self._file()
                if data is not None:
                    self.send_response(200)
                    self.send_header("X-Repo-Commit", "a" * 40)
                    self.send_header("ETag", '"' + hashlib.sha1(data).hexdigest() + '"')
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif path == "/api/whoami-v2":
                    self._send(200, {"name": hub.user, "type": "user", "orgs": []})
                elif path.startswith("/api/models/") and "/".join(parts[2:4]) in hub.models:
                    self._send(200, {"id": "/".join(parts[2:4]), "private": True})
                elif path.startswith("/api/spaces/") and path.endswith("/runtime"):
                    self._send(200, hub.runtime())
                elif len(parts) >= 5 and parts[4] == "tree" and "/".join(parts[1:4]) in hub.repos:
                    key = "/".join(parts[1:4])
                    listing = [
                        {"type": "file", "path": f, "oid": "0" * 40, "size": len(data)}
                        for f, data in hub.files.get(key, {}).items()
                    ]
                    self._send(200, listing)
                else:
                    self._send(404, {"error": "Repository not found"})

            def _file(self) -> bytes | None:
                """A committed file for ``/<type>s/<owner>/<name>/resolve/<rev>/<path>``."""
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) < 6 or parts[3] != "resolve":
                    return None
                return hub.files.get("/".join(parts[:3]), {}).get("/".join(parts[5:]))

            def do_HEAD(self) -> None:
                self._record(None)
                data = self._file()
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("X-Repo-Commit", "a" * 40)
                self.send_header("ETag", '"' + hashlib.sha1(data).hexdigest() + '"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()

            def do_POST(self) -> None:
                body = self._body()
                self._record(body)
                path = self.path.split("?")[0]
                parts = path.strip("/").split("/")
                if path == "/api/repos/create":
                    kind = (body or {}).get("type") or "model"
                    name = f"{(body or {}).get('organization') or hub.user}/{body['name']}"
                    prefix = "" if kind == "model" else f"{kind}s/"
                    hub.repos[f"{kind}s/{name}"] = kind
                    self._send(200, {"url": f"{hub.url}/{prefix}{name}", "name": name})
                elif "preupload" in parts:
                    files = [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                        for f in (body or {}).get("files", [])
                    ]
                    self._send(200, {"files": files})
                elif "commit" in parts:
                    stored = hub.files.setdefault("/".join(parts[1:4]), {})
                    for op in body if isinstance(body, list) else []:
                        if op.get("key") == "file":
                            value = op["value"]
                            stored[value["path"]] = base64.b64decode(value.get("content") or "")
                    self._send(
                        200,
                        {
                            "commitUrl": f"{hub.url}/{'/'.join(parts[1:4])}/commit/" + "a" * 40,
                            "commitOid": "a" * 40,
                            "pullRequestUrl": None,
                        },
                    )
                elif path.startswith("/v2/endpoint/"):  # Inference Endpoints (AutoTrain's URL)
                    self._send(200, {"name": (body or {}).get("name"), "status": "pending"})
                elif parts[-1] in ("sleeptime", "hardware", "restart", "pause"):
                    self._send(200, hub.runtime())  # a SpaceRuntime
                else:  # secrets, validate-yaml, settings ...
                    self._send(200, {})

        return Handler
