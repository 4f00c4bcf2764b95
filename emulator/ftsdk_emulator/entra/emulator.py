"""The servers: :class:`EntraEmulator` serves Entra ID over HTTPS (MSAL refuses a
plain-HTTP authority; the certificate comes from a :class:`LocalCA`) and managed identity
over plain HTTP, around one :class:`TokenIssuer`."""

from __future__ import annotations

from typing import Any, Self

from starlette.applications import Starlette

from ftsdk_emulator.entra.authority import entra_routes
from ftsdk_emulator.entra.issuer import TokenIssuer
from ftsdk_emulator.entra.managed_identity import managed_identity_routes
from ftsdk_emulator.entra.records import AppRegistration
from ftsdk_emulator.serving import LocalCA, ServerThread

__all__ = ["EntraEmulator"]


class EntraEmulator:
    """Entra ID over HTTPS and managed identity over plain HTTP, around one issuer.

    :param issuer: the state to serve (a new :class:`TokenIssuer` if not given).
    :param ca: the CA whose certificate serves HTTPS (a new :class:`LocalCA`, closed on
        :meth:`stop`, if not given).
    """

    def __init__(self, issuer: TokenIssuer | None = None, *, ca: LocalCA | None = None) -> None:
        self.issuer = issuer or TokenIssuer()
        self._own_ca = ca is None
        self.ca = ca or LocalCA()
        self._entra = ServerThread(
            Starlette(routes=entra_routes(self.issuer)),
            ssl_context=self.ca.server_context(),
            name="ftsdk-entra-https",
        )
        self._managed = ServerThread(
            Starlette(routes=managed_identity_routes(self.issuer)), name="ftsdk-entra-http"
        )

    def start(self) -> Self:
        """Start both servers; returns once both accept connections."""
        for server in (self._entra, self._managed):
            server.start(wait=False)
        for server in (self._entra, self._managed):
            server.wait_started()
        return self

    def stop(self) -> None:
        """Stop both servers (in parallel) and release their ports."""
        for server in (self._entra, self._managed):
            server.request_stop()
        for server in (self._entra, self._managed):
            server.stop()
        if self._own_ca:
            self.ca.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def authority(self) -> str:
        """``https://127.0.0.1:<port>``: the ``authority`` / ``AZURE_AUTHORITY_HOST``."""
        return self._entra.url

    @property
    def ca_path(self) -> str:
        """The CA certificate PEM for ``connection_verify``."""
        return str(self.ca.ca_path)

    @property
    def imds_url(self) -> str:
        """``http://127.0.0.1:<port>``: the value for ``AZURE_POD_IDENTITY_AUTHORITY_HOST``."""
        return self._managed.url

    @property
    def app_service_endpoint(self) -> str:
        """The value for ``IDENTITY_ENDPOINT``."""
        return f"{self._managed.url}/msi/token"

    def credential_kwargs(self) -> dict[str, Any]:
        """Keyword arguments that point an Entra credential (``ClientSecretCredential``,
        ``EnvironmentCredential``, ``DefaultAzureCredential``, ``WorkloadIdentityCredential``)
        at the emulator: authority, no instance discovery, the CA, and no retries."""
        return {
            "authority": self.authority,
            "disable_instance_discovery": True,
            "connection_verify": self.ca_path,
            "retry_total": 0,
        }

    def service_principal_env(self, app: AppRegistration) -> dict[str, str]:
        """Environment for ``EnvironmentCredential`` with a client secret."""
        return {
            "AZURE_TENANT_ID": app.tenant_id,
            "AZURE_CLIENT_ID": app.client_id,
            "AZURE_CLIENT_SECRET": app.client_secret,
            "AZURE_AUTHORITY_HOST": self.authority,
        }

    def imds_env(self) -> dict[str, str]:
        """Environment that sends ``ManagedIdentityCredential`` to the emulated IMDS."""
        return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": self.imds_url}

    def app_service_env(self) -> dict[str, str]:
        """Environment that makes ``ManagedIdentityCredential`` use App Service's endpoint."""
        return {
            "IDENTITY_ENDPOINT": self.app_service_endpoint,
            "IDENTITY_HEADER": self.issuer.identity_header,
        }
