"""Offline emulation of Microsoft Entra ID and Azure managed identity, for the real
``azure-identity`` credential classes.

The pieces, one module each:

* :mod:`~ftsdk_emulator.entra.tokens`: the scopes and roles, and JWT-shaped
  tokens (:func:`make_assertion`, :func:`decode_jwt_claims`, :func:`bearer_token`).
* :mod:`~ftsdk_emulator.entra.records`: principals, registrations, issued tokens
  and token requests, as the issuer reports them.
* :mod:`~ftsdk_emulator.entra.directory`: the state: tenants, app registrations
  (client secrets and federated credentials), managed identities, role assignments, the
  tokens issued and every token request answered. Other emulated services ask who a
  bearer token belongs to with :meth:`TokenIssuer.validate`.
* :mod:`~ftsdk_emulator.entra.authority`: Entra's OpenID discovery and OAuth 2.0
  token endpoint (``client_credentials`` with a client secret or a federated assertion),
  and their routes, :func:`entra_routes`.
* :mod:`~ftsdk_emulator.entra.managed_identity`: the Azure Instance Metadata
  Service (IMDS) token endpoint and App Service's ``/msi/token``, and their routes,
  :func:`managed_identity_routes`.
* :mod:`~ftsdk_emulator.entra.issuer`: :class:`TokenIssuer`, the state with both
  protocols.
* :mod:`~ftsdk_emulator.entra.emulator`: :class:`EntraEmulator` runs both halves
  at once on ``127.0.0.1`` (each a :class:`~ftsdk_emulator.serving.ServerThread`):
  Entra over HTTPS with a :class:`~ftsdk_emulator.serving.LocalCA` (MSAL refuses a
  plain-HTTP authority) and managed identity over plain HTTP (as the real endpoints are).

A credential reaches the emulator with these arguments (see
:meth:`EntraEmulator.credential_kwargs`): ``authority`` (or ``AZURE_AUTHORITY_HOST``) set to
the HTTPS address, ``disable_instance_discovery=True`` (otherwise MSAL asks
``login.microsoftonline.com`` whether the authority is known), and
``connection_verify=<CA PEM path>`` (``SSL_CERT_FILE`` is not read by ``requests``).

Error bodies follow the real services: Entra's ``{"error", "error_description":
"AADSTS<code>: ... Trace ID: ... Correlation ID: ... Timestamp: ...", "error_codes",
"timestamp", "trace_id", "correlation_id", "error_uri"}`` with the real AADSTS codes and
statuses; IMDS's ``{"error", "error_description"}``; App Service's ``{"statusCode",
"message", "correlationId"}``. The wording of the IMDS and App Service messages that are
not publicly documented is the emulator's own.
"""

from __future__ import annotations

from ftsdk_emulator.entra.authority import entra_routes
from ftsdk_emulator.entra.emulator import EntraEmulator
from ftsdk_emulator.entra.issuer import TokenIssuer
from ftsdk_emulator.entra.managed_identity import managed_identity_routes
from ftsdk_emulator.entra.records import (
    AppRegistration,
    IssuedToken,
    ManagedIdentityRegistration,
    Principal,
    Reply,
    TokenRequest,
)
from ftsdk_emulator.entra.tokens import (
    CONTRIBUTOR,
    DATA_SCOPE,
    DEFAULT_RESOURCES,
    DEFAULT_ROLES,
    FEDERATED_AUDIENCE,
    MANAGEMENT_SCOPE,
    USER,
    bearer_token,
    decode_jwt_claims,
    make_assertion,
    resource_of,
)

__all__ = [
    "CONTRIBUTOR",
    "DATA_SCOPE",
    "DEFAULT_RESOURCES",
    "DEFAULT_ROLES",
    "FEDERATED_AUDIENCE",
    "MANAGEMENT_SCOPE",
    "USER",
    "AppRegistration",
    "EntraEmulator",
    "IssuedToken",
    "ManagedIdentityRegistration",
    "Principal",
    "Reply",
    "TokenIssuer",
    "TokenRequest",
    "bearer_token",
    "decode_jwt_claims",
    "entra_routes",
    "make_assertion",
    "managed_identity_routes",
    "resource_of",
]
