"""Serving an ASGI app with uvicorn from a background thread: ``ftsdk serve`` and the
emulator both run on it."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from typing import Self

import uvicorn
from starlette.types import ASGIApp

__all__ = ["ServerThread"]


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket. ``proto`` must be ``IPPROTO_TCP``, not 0: asyncio sets
    ``TCP_NODELAY`` only on such sockets, and without it every response after the first on
    a keep-alive connection waits ~40 ms for a delayed ACK (Nagle)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """uvicorn, minus the wait for idle TLS connections to finish closing at shutdown."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Shut down as uvicorn does, then drop the connections still closing: a TLS
        close waits for the client's reply, which an idle ``requests`` pool never sends."""
        await super().shutdown(sockets)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if isinstance(transport, asyncio.Transport):
                transport.abort()
        await asyncio.sleep(0)  # let connection_lost run


class ServerThread:
    """Serve an ASGI app with uvicorn on ``host`` in a background thread.

    The socket is bound before the thread starts (``port=0`` picks a free port, reported
    by :attr:`port`); :meth:`start` returns once uvicorn accepts connections and
    :meth:`stop` returns once the thread has ended and the socket is closed.

    :param ssl_context: serve HTTPS with this context (see :meth:`LocalCA.server_context`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        name: str = "ftsdk-server",
    ) -> None:
        self.host = host
        self._socket = _listen(host, port)
        self.port: int = self._socket.getsockname()[1]
        self.scheme = "https" if ssl_context else "http"
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            http="h11",
            timeout_graceful_shutdown=1,
            ssl_context_factory=(lambda _c, _d: ssl_context) if ssl_context else None,
        )
        self._server = _Server(config)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def url(self) -> str:
        """``http(s)://host:port``."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as error:  # reported by wait_started()
            self._error = error
        finally:
            self._socket.close()

    def start(self, *, wait: bool = True, timeout: float = 10.0) -> Self:
        """Start the thread; with ``wait``, return once the server accepts connections."""
        self._thread.start()
        if wait:
            self.wait_started(timeout)
        return self

    def wait_started(self, timeout: float = 10.0) -> None:
        """Block until the server accepts connections; ``RuntimeError`` if it cannot."""
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server on {self.url} did not start: {self._error!r}")
            time.sleep(0.001)

    def request_stop(self) -> None:
        """Ask the server to stop, without waiting.

        Idle keep-alive connections are not waited for (a TLS connection would linger until
        its client answers the close, which an idle ``requests`` pool never does), nor are
        requests still in flight.
        """
        self._server.should_exit = True
        self._server.force_exit = True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, wait for the thread to end and release the port."""
        self.request_stop()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()

    def join(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds for the serving thread to end."""
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """Whether the serving thread is alive."""
        return self._thread.is_alive()

    @property
    def started(self) -> bool:
        """Whether :meth:`start` was called (a thread starts once)."""
        return self._thread.ident is not None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
