"""A stand-in server that refuses every request with one HTTP status, for provoking the
errors of a provider whose service is local but calls out over HTTP (a Hub push)::

    with refusing_server(503) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        client.model("m", path=folder).push_to_hub("me/m")   # ProviderUnavailable
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["refusing_server"]


@contextmanager
def refusing_server(status: int) -> Iterator[str]:
    """Serve on a free port of 127.0.0.1, answering every request ``status`` with a JSON
    error body (and ``Retry-After: 0`` on a 429); yields the base URL."""

    class Refuse(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)  # read the body, so the client sees the answer
            body = json.dumps({"error": HTTPStatus(status).phrase}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            if status == 429:
                self.send_header("retry-after", "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        # http.server dispatches on these names
        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads the client's error, not the server's log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
