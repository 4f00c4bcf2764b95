"""Managed identity, served over plain HTTP as the real endpoints are: the Azure Instance
Metadata Service (IMDS) token endpoint, answering errors as ``{"error",
"error_description"}``, and App Service's ``/msi/token``, answering them as
``{"statusCode", "message", "correlationId"}``. The wording of the messages that are not
publicly documented is the emulator's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ftsdk_emulator.entra.directory import _Directory, _resource_missing
from ftsdk_emulator.entra.records import (
    Endpoint,
    Reply,
    TokenRequest,
    _Identity,
    _json,
    _Refusal,
)
from ftsdk_emulator.entra.tokens import _same

if TYPE_CHECKING:
    from ftsdk_emulator.entra.issuer import TokenIssuer

__all__ = ["managed_identity_routes"]


class _ManagedIdentityEndpoints(_Directory):
    """The IMDS and App Service protocols over the directory's state."""

    def imds_token(self, params: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        """IMDS ``GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...``
        (requires ``Metadata: true``); names a user-assigned identity by ``client_id``,
        ``object_id``/``principal_id`` or ``msi_res_id``/``mi_res_id``."""

        def refuse(status: int, error: str, description: str) -> _Refusal:
            return _Refusal(
                Reply(status, {"error": error, "error_description": description}), error
            )

        sent = {name.lower(): value for name, value in headers.items()}

        def grant() -> Reply:
            if sent.get("metadata", "").lower() != "true":
                raise refuse(400, "invalid_request", "Required metadata header not specified")
            if not params.get("api-version"):
                raise refuse(400, "invalid_request", "Required api-version parameter not specified")
            resource = params.get("resource")
            if not resource:
                raise refuse(400, "invalid_request", "Required audience parameter not specified")
            identity = self._select_identity(params, ("msi_res_id", "mi_res_id"), single_ok=True)
            if identity is None:
                raise refuse(400, "invalid_request", "Identity not found")
            if not self._known_resource(resource):
                message = _resource_missing(resource, identity.tenant_id)
                raise refuse(400, "invalid_resource", f"AADSTS500011: {message}")
            token, expires_in = self._issue(identity, resource, "imds", None)
            now = int(self._clock())
            return Reply(
                200,
                {
                    "access_token": token,
                    "client_id": identity.client_id,
                    "expires_in": str(expires_in),
                    "expires_on": str(now + expires_in),
                    "ext_expires_in": str(expires_in),
                    "not_before": str(now),
                    "resource": resource,
                    "token_type": "Bearer",
                },
            )

        return self._managed(grant, "imds", params)

    def app_service_token(self, params: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        """App Service ``GET /msi/token?api-version=2019-08-01&resource=...`` (requires
        ``X-IDENTITY-HEADER`` to equal :attr:`identity_header`); names a user-assigned
        identity by ``client_id``, ``object_id``/``principal_id`` or ``mi_res_id``."""
        correlation_id = str(uuid.uuid4())

        def refuse(status: int, message: str, error: str) -> _Refusal:
            body: dict[str, object] = {
                "statusCode": status,
                "message": message,
                "correlationId": correlation_id,
            }
            return _Refusal(Reply(status, body), error)

        secret = next((v for k, v in headers.items() if k.lower() == "x-identity-header"), "")

        def grant() -> Reply:
            if not _same(secret, self.identity_header):
                raise refuse(
                    401, "The X-IDENTITY-HEADER header is missing or invalid.", "unauthorized"
                )
            if params.get("api-version") != "2019-08-01":
                raise refuse(400, "Unsupported or missing api-version.", "bad_request")
            resource = params.get("resource")
            if not resource:
                raise refuse(400, "The resource parameter is required.", "bad_request")
            identity = self._select_identity(params, ("mi_res_id",), single_ok=False)
            if identity is None:
                raise refuse(
                    400, "Unable to load the proper Managed Identity.", "identity_not_found"
                )
            if not self._known_resource(resource):
                message = _resource_missing(resource, identity.tenant_id)
                raise refuse(400, f"AADSTS500011: {message}", "invalid_resource")
            token, expires_in = self._issue(identity, resource, "app_service", None)
            return Reply(
                200,
                {
                    "access_token": token,
                    "expires_on": str(int(self._clock()) + expires_in),
                    "resource": resource,
                    "token_type": "Bearer",
                    "client_id": identity.client_id,
                },
            )

        return self._managed(grant, "app_service", params)

    def _managed(
        self, grant: Callable[[], Reply], endpoint: Endpoint, params: Mapping[str, str]
    ) -> Reply:
        received_at = self._clock()
        error: str | None = None
        try:
            with self._lock:
                reply = grant()
        except _Refusal as refusal:
            reply, error = refusal.reply, refusal.error
        token = reply.body.get("access_token")
        client_id = reply.body.get("client_id", params.get("client_id"))
        self._record(
            TokenRequest(
                endpoint=endpoint,
                received_at=received_at,
                tenant=None,
                client_id=client_id if isinstance(client_id, str) else None,
                grant_type=None,
                scope=params.get("resource"),
                status_code=reply.status_code,
                error=error,
                access_token=token if isinstance(token, str) else None,
            )
        )
        return reply

    def _select_identity(
        self, params: Mapping[str, str], resource_keys: tuple[str, ...], *, single_ok: bool
    ) -> _Identity | None:
        managed = [i for i in self._identities.values() if i.kind == "ManagedIdentity"]
        client_id = params.get("client_id")
        object_id = params.get("object_id") or params.get("principal_id")
        resource_id = next((params[k] for k in resource_keys if params.get(k)), None)
        if client_id or object_id or resource_id:
            return next(
                (
                    i
                    for i in managed
                    if (not client_id or i.client_id == client_id)
                    and (not object_id or i.object_id == object_id)
                    and (not resource_id or i.resource_id.lower() == resource_id.lower())
                ),
                None,
            )
        system = next((i for i in managed if i.system_assigned), None)
        if system is None and single_ok and len(managed) == 1:
            return managed[0]  # a VM with one user-assigned identity answers with it
        return system


def managed_identity_routes(issuer: TokenIssuer) -> list[BaseRoute]:
    """Managed identity token routes, to serve over plain HTTP.

    * ``GET /metadata/identity/oauth2/token``: IMDS; point ``AZURE_POD_IDENTITY_AUTHORITY_HOST``
      at the server.
    * ``GET /msi/token``: App Service; set ``IDENTITY_ENDPOINT`` to this URL and
      ``IDENTITY_HEADER`` to :attr:`TokenIssuer.identity_header`.
    """

    async def imds(request: Request) -> Response:
        return _json(issuer.imds_token(dict(request.query_params), request.headers))

    async def app_service(request: Request) -> Response:
        return _json(issuer.app_service_token(dict(request.query_params), request.headers))

    return [
        Route("/metadata/identity/oauth2/token", imds, methods=["GET"]),
        Route("/msi/token", app_service, methods=["GET"]),
    ]
