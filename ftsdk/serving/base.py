"""What both kinds of server share: their address from host and port, and how a caller
waits on one (until Ctrl-C or SIGTERM) or holds it in a ``with`` block."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Self

__all__ = ["ServerBase"]


class ServerBase:
    """Base of :class:`~ftsdk.serving.ModelServer` and
    :class:`~ftsdk.serving.engine_server.EngineServer`."""

    @property
    def host(self) -> str:
        """The address listened on."""
        raise NotImplementedError

    @property
    def port(self) -> int:
        """The port listened on."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://host:port/v1``: the ``base_url`` for ``openai.OpenAI``."""
        return f"{self.url}/v1"

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        raise NotImplementedError

    def start(self) -> Self:
        """Start serving; returns once ready."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving (safe to call twice)."""
        raise NotImplementedError

    def _idle(self) -> None:
        """Wait a moment while serving."""
        time.sleep(0.5)

    def wait(self) -> None:
        """Block until Ctrl-C (or SIGTERM), or until the server stops by itself; then stop it."""
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _interrupt) if main else None
        try:
            while self.running:
                self._idle()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            if main:
                signal.signal(signal.SIGTERM, previous)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
