"""Prism, the independent referee: the published OpenAPI description served by Stoplight's
mock server (the Stainless build openai-python ran its own tests on), and a recording proxy in
front of it that notes every request Prism calls invalid.

The plugins were written from our reading of the specs, and so was the emulator; Prism reads the
specs itself. Its mock mode checks each request against the operation it matches and answers
with the spec's own examples. A request it finds invalid is answered 422, and every finding
comes back in the ``sl-violations`` header, marked ``request`` or ``response``. The proxy reads
both on every exchange, so a test cannot miss one.

Prism runs without ``--errors``: that flag also turns a finding about Prism's *own* answer into
a 500 (Azure's dated description declares a ``Location`` header of format ``url`` whose example
is ``"string"``), which would stop the client before it reads anything. Request findings are
refused with 422 either way.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

__all__ = ["PRISM", "Declared", "Exchange", "Prism", "RecordingProxy", "free_port"]

ROOT = Path(__file__).resolve().parents[2]
PRISM = ROOT / "node_modules" / ".bin" / "prism"
"""The pinned Prism (package.json), installed by ``scripts/setup`` with ``npm ci``."""

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Prism:
    """``prism mock`` on ``spec`` as a child process on a free 127.0.0.1 port.

    :meth:`start` returns at once (the large OpenAI description takes a while to load, so
    several are started side by side); :meth:`wait_ready` waits for "Prism is listening".
    """

    def __init__(self, spec: Path, *, log: Path, document: dict[str, Any]) -> None:
        self.spec, self.log = spec, log
        self.declared = Declared(document)
        """What the served description declares, for :meth:`RecordingProxy.undeclared`."""
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.started_at = time.monotonic()
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(self.port), str(self.spec)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopped whole, by its id
            )

    def wait_ready(self, timeout: float) -> None:
        """Wait until Prism listens; raise ``RuntimeError`` with its log if it cannot."""
        assert self.process is not None
        deadline = self.started_at + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if "Prism is listening" in text:
                self.startup_seconds = time.monotonic() - self.started_at
                return
            if "fatal" in text or self.process.poll() is not None:
                raise RuntimeError(f"Prism could not serve {self.spec.name}:\n{tail(text)}")
            time.sleep(0.1)
        raise RuntimeError(
            f"Prism did not listen within {timeout:.0f}s on {self.spec.name}:\n"
            + tail(self.log.read_text(errors="replace"))
        )

    def stop(self) -> None:
        """Stop the process group Prism leads (npm's bin shim and node), by its id."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def npm_missing_reason() -> str | None:
    """Why Prism cannot be installed here (no npm), or ``None``."""
    if PRISM.exists() or shutil.which("npm") is not None:
        return None
    return "npm is not installed, so scripts/setup could not install Prism (package.json)"


@dataclass
class Exchange:
    """One request through the proxy and what Prism said of it."""

    method: str
    path: str
    status: int
    violations: list[dict[str, Any]] = field(default_factory=list)
    """Prism's findings: the 422 body's ``validation`` list, or the ``sl-violations`` header."""
    body: bytes = b""
    answer: bytes = b""

    @property
    def invalid(self) -> bool:
        """Prism refused the request, or found an error in it (findings about its own answer
        are the description's business, not the client's)."""
        return self.status == 422 or any(
            v.get("severity") == "Error" and v.get("location", ["request"])[0] == "request"
            for v in self.violations
        )

    def describe(self) -> str:
        found = "; ".join(
            f"{'.'.join(str(p) for p in v.get('location', []))}: {v.get('message')}"
            for v in self.violations
        )
        return f"{self.method} {self.path} -> {self.status}: {found or self.answer[:300]!r}"


Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


class RecordingProxy:
    """A plain HTTP proxy on a free 127.0.0.1 port in front of Prism that records every
    exchange. The client under test gets the proxy's URL as its ``base_url``: no hook inside
    the client, so what is checked is exactly what went over the wire.

    :param prism: the Prism it relays to, and whose description names what may be sent.
    :param strip_prefix: removed from request paths (Azure's dated API puts ``/openai`` before
        the paths its description declares).
    :param budget: requests allowed per test; past it the proxy answers 400 itself and sets
        :attr:`over_budget`, so a client that pages forever fails instead of hanging.
    """

    def __init__(
        self,
        prism: Prism,
        *,
        strip_prefix: str = "",
        budget: int = 60,
    ) -> None:
        self.upstream = prism.url.removeprefix("http://")
        self.declared = prism.declared
        self.strip_prefix = strip_prefix
        self.budget = budget
        self.exchanges: list[Exchange] = []
        self.over_budget = False
        self.rewrites: dict[tuple[str, str], Rewrite] = {}
        """(method, path regex) -> edit of Prism's JSON success answer, for a spec-valid answer
        the description's examples do not hold (an empty list)."""
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy.relay(self)

            def do_POST(self) -> None:
                proxy.relay(self)

            def do_DELETE(self) -> None:
                proxy.relay(self)

            def do_PUT(self) -> None:  # Resource Manager creates deployments with PUT
                proxy.relay(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.exchanges.clear()
            self.rewrites.clear()
            self.over_budget = False

    def invalid(self) -> list[Exchange]:
        """The exchanges Prism found invalid."""
        return [e for e in self.exchanges if e.invalid]

    def undeclared(self) -> list[str]:
        """Names sent that the description does not declare, with their requests."""
        return [
            f"{e.method} {e.path}: {name}"
            for e in self.exchanges
            for name in self.declared.undeclared(e)
        ]

    def requests(self, method: str, pattern: str) -> list[Exchange]:
        """The exchanges whose method is ``method`` and path (query removed) matches."""
        return [
            e
            for e in self.exchanges
            if e.method == method and re.fullmatch(pattern, e.path.split("?")[0])
        ]

    @staticmethod
    def _body(handler: BaseHTTPRequestHandler) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while handler.rfile.readline().strip():
                        pass  # trailers
                    return data
                data += handler.rfile.read(size)
                handler.rfile.readline()
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))

    def relay(self, handler: BaseHTTPRequestHandler) -> None:
        body = self._body(handler)
        path = handler.path
        if self.strip_prefix and path.startswith(self.strip_prefix):
            path = path[len(self.strip_prefix) :] or "/"
        with self._lock:
            spent = len(self.exchanges) >= self.budget
            self.over_budget |= spent
        if spent:
            self._answer(handler, 400, {"Content-Type": "application/json"}, OVER_BUDGET)
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(self.upstream, timeout=60)
        try:
            upstream.request(handler.command, path, body=body, headers=headers)
            response = upstream.getresponse()
            answer = response.read()
            status = response.status
            answer_headers = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
        finally:
            upstream.close()
        violations = self._violations(status, answer_headers, answer)
        for (method, pattern), rewrite in list(self.rewrites.items()):
            if not 200 <= status < 300:
                break  # Prism's refusals reach the client as they are
            if method == handler.command and re.fullmatch(pattern, path.split("?")[0]):
                answer = json.dumps(rewrite(json.loads(answer))).encode()
        with self._lock:
            self.exchanges.append(
                Exchange(handler.command, path, status, violations, body=body, answer=answer)
            )
        self._answer(handler, status, answer_headers, answer)

    @staticmethod
    def _violations(status: int, headers: dict[str, str], answer: bytes) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for name, value in headers.items():
            if name.lower() == "sl-violations":
                found.extend(json.loads(value))
        if status == 422 and b"stoplight.io/prism" in answer:
            with contextlib.suppress(ValueError):  # Prism's own 422 lists what it found
                found.extend(json.loads(answer).get("validation") or [])
        return found

    @staticmethod
    def _answer(
        handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


OVER_BUDGET = json.dumps(
    {
        "error": {
            "message": "contract test: request budget spent (the client kept asking)",
            "type": "invalid_request_error",
            "param": None,
            "code": "request_budget",
        }
    }
).encode()


class Declared:
    """What a description declares for each operation: its query parameters and the top-level
    fields of its JSON body. Prism checks values, but lets through names an operation does not
    declare (a query parameter, or a body field where the schema leaves ``additionalProperties``
    open, as Azure's do); a version-aware client must not send them.

    :param document: the description as Prism serves it (OpenAPI 3 or Swagger 2.0).
    """

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.routes: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        for template, item in document.get("paths", {}).items():
            pattern = re.compile("[^/]+".join(map(re.escape, re.split(r"\{[^}]+\}", template))))
            shared = item.get("parameters", [])
            for method, operation in item.items():
                if method in ("get", "post", "delete", "put", "patch"):
                    params = [self.resolve(p) for p in shared + operation.get("parameters", [])]
                    self.routes.append((pattern, method.upper(), {**operation, "_params": params}))

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            target: Any = self.document
            for key in node["$ref"].removeprefix("#/").split("/"):
                target = target[key.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def fields(self, schema: Any) -> set[str] | None:
        """The property names ``schema`` declares, ``None`` when it does not say."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return None
        names = set(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            more = self.fields(part)
            if more is None:
                return None
            names |= more
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return None  # a union: leave it to Prism
        return names or None

    def undeclared(self, exchange: Exchange) -> list[str]:
        """Query parameters and JSON body fields ``exchange`` sent that its operation does
        not declare."""
        path, _, query = exchange.path.partition("?")
        operation = next(
            (
                op
                for pattern, m, op in self.routes
                if m == exchange.method and pattern.fullmatch(path)
            ),
            None,
        )
        if operation is None:
            return []
        params = operation["_params"]
        declared = {p["name"] for p in params if p.get("in") == "query"}
        found = [
            f"query {name}"
            for name in dict.fromkeys(
                re.sub(r"\[.*", "", unquote(pair.split("=")[0]))
                for pair in query.split("&")
                if pair
            )
            if name not in declared
        ]
        body_schema = next((p.get("schema") for p in params if p.get("in") == "body"), None)
        content = self.resolve(operation.get("requestBody", {})).get("content", {})
        if "application/json" in content:
            body_schema = content["application/json"].get("schema")
        names = None if body_schema is None else self.fields(body_schema)
        if names is not None and exchange.body[:1] == b"{":
            found += [f"body {k}" for k in json.loads(exchange.body) if k not in names]
        return found
