"""A per-session test CA for serving HTTPS on 127.0.0.1 (the emulator's Entra ID endpoint),
beside :class:`ServerThread` (now in :mod:`ftsdk.serving.thread`, shared with ``ftsdk serve``)."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path
from typing import Self

import trustme

from ftsdk.serving.thread import ServerThread

__all__ = ["LocalCA", "ServerThread"]


class LocalCA:
    """A throwaway certificate authority for a test session.

    Its certificate is written to :attr:`ca_path` (a PEM file in a private temporary
    directory) for clients to trust; :meth:`server_context` makes a server TLS context
    with a certificate it issues. :meth:`close` removes the directory.
    """

    def __init__(self) -> None:
        self.ca = trustme.CA(organization_name="ftsdk test CA")
        self._dir = tempfile.TemporaryDirectory(prefix="ftsdk-ca-")
        self.ca_path = Path(self._dir.name) / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))

    def server_context(self, *hosts: str) -> ssl.SSLContext:
        """A server ``SSLContext`` whose certificate names ``hosts`` (default
        ``127.0.0.1`` and ``localhost``)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*(hosts or ("127.0.0.1", "localhost"))).configure_cert(context)
        return context

    def close(self) -> None:
        """Delete the CA file."""
        self._dir.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
