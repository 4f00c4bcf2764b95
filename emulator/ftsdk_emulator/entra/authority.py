"""The Entra ID authority, served over HTTPS: OpenID discovery, the (empty) JWKS and the
OAuth 2.0 token endpoint (``client_credentials`` with a client secret, in the body or by
HTTP Basic, or a federated assertion), answering errors as Entra does: ``{"error",
"error_description": "AADSTS<code>: ... Trace ID: ... Correlation ID: ... Timestamp: ...",
"error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"}`` with the real
AADSTS codes and statuses.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ftsdk_emulator.entra.directory import _Directory, _resource_missing
from ftsdk_emulator.entra.records import (
    Reply,
    TokenRequest,
    _Identity,
    _json,
    _Refusal,
    _Refuse,
)
from ftsdk_emulator.entra.tokens import _same, decode_jwt_claims

if TYPE_CHECKING:
    from ftsdk_emulator.entra.issuer import TokenIssuer

__all__ = ["entra_routes"]

_JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_RESERVED_SCOPES: Final = frozenset({"openid", "profile", "offline_access", "email"})
_NO_STORE: Final = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class _EntraAuthority(_Directory):
    """The Entra ID protocol over the directory's state."""

    def openid_configuration(self, base_url: str, tenant: str) -> Reply:
        """``GET /{tenant}/v2.0/.well-known/openid-configuration``."""
        tid = self._tenant(tenant)
        if tid is None:
            return self._aad_error(base_url, 400, "invalid_tenant", 90002, _tenant_missing(tenant))
        root = f"{base_url}/{tid}"
        return Reply(
            200,
            {
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{root}/v2.0",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
                "tenant_region_scope": "NA",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
            },
        )

    def jwks(self, base_url: str, tenant: str) -> Reply:
        """``GET /{tenant}/discovery/v2.0/keys``: no keys, the tokens are not signed."""
        if self._tenant(tenant) is None:
            return self._aad_error(base_url, 400, "invalid_tenant", 90002, _tenant_missing(tenant))
        return Reply(200, {"keys": []})

    def entra_token(
        self,
        base_url: str,
        tenant: str,
        form: Mapping[str, str],
        *,
        authorization: str | None = None,
        correlation_id: str | None = None,
    ) -> Reply:
        """``POST /{tenant}/oauth2/v2.0/token`` with a ``client_credentials`` grant,
        authenticated by ``client_secret`` (body or HTTP Basic) or by a federated
        ``client_assertion``."""
        basic_id, basic_secret = _basic_credentials(authorization)
        client_id = form.get("client_id") or basic_id
        received_at = self._clock()

        def record(status: int, **outcome: str | int | None) -> None:
            self._record(
                TokenRequest(
                    endpoint="entra",
                    received_at=received_at,
                    tenant=tenant,
                    client_id=client_id,
                    grant_type=form.get("grant_type"),
                    scope=form.get("scope"),
                    status_code=status,
                    error=_str_or_none(outcome.get("error")),
                    error_code=_int_or_none(outcome.get("error_code")),
                    access_token=_str_or_none(outcome.get("access_token")),
                )
            )

        try:
            with self._lock:
                token, expires_in = self._entra_grant(
                    base_url,
                    tenant,
                    form,
                    client_id=client_id,
                    basic_secret=basic_secret,
                    correlation_id=correlation_id,
                )
        except _Refusal as refusal:
            record(refusal.reply.status_code, error=refusal.error, error_code=refusal.code)
            return refusal.reply
        record(200, access_token=token)
        body: dict[str, object] = {
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": token,
        }
        return Reply(200, body)

    def _entra_grant(
        self,
        base_url: str,
        tenant: str,
        form: Mapping[str, str],
        *,
        client_id: str | None,
        basic_secret: str | None,
        correlation_id: str | None,
    ) -> tuple[str, int]:
        def refuse(status: int, error: str, code: int, message: str) -> _Refusal:
            reply = self._aad_error(
                base_url, status, error, code, message, correlation_id=correlation_id
            )
            return _Refusal(reply, error, code)

        tid = self._tenant(tenant)
        if tid is None:
            raise refuse(400, "invalid_tenant", 90002, _tenant_missing(tenant))
        grant_type = form.get("grant_type")
        if not grant_type:
            raise refuse(400, "invalid_request", 900144, _missing("grant_type"))
        if grant_type != "client_credentials":
            raise refuse(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        if not client_id:
            raise refuse(400, "invalid_request", 900144, _missing("client_id"))
        app = next(
            (
                i
                for i in self._identities.values()
                if i.kind == "ServicePrincipal" and i.tenant_id == tid and i.client_id == client_id
            ),
            None,
        )
        if app is None:
            raise refuse(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You "
                "may have sent your authentication request to the wrong tenant.",
            )
        self._authenticate(app, form, basic_secret, refuse)
        scope = form.get("scope")
        if not scope:
            raise refuse(400, "invalid_request", 900144, _missing("scope"))
        requested = [s for s in scope.split() if s.lower() not in _RESERVED_SCOPES]
        if len(requested) != 1 or not requested[0].endswith("/.default"):
            raise refuse(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        if not self._known_resource(requested[0]):
            raise refuse(400, "invalid_resource", 500011, _resource_missing(requested[0], tenant))
        return self._issue(app, requested[0], "entra", None)

    def _authenticate(
        self,
        app: _Identity,
        form: Mapping[str, str],
        basic_secret: str | None,
        refuse: _Refuse,
    ) -> None:
        secret = form.get("client_secret") or basic_secret
        assertion = form.get("client_assertion")
        if secret is not None:
            if not any(_same(secret, s) for s in app.secrets):
                raise refuse(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the "
                    "request is the client secret value, not the client secret ID, for a "
                    f"secret added to app '{app.client_id}'.",
                )
        elif assertion is not None:
            if form.get("client_assertion_type") != _JWT_BEARER:
                raise refuse(400, "invalid_request", 900144, _missing("client_assertion_type"))
            self._check_assertion(app, assertion, refuse)
        else:
            raise refuse(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' "
                "or 'client_secret'.",
            )

    def _check_assertion(
        self,
        app: _Identity,
        assertion: str,
        refuse: _Refuse,
    ) -> None:
        claims = decode_jwt_claims(assertion)
        if claims is None:
            raise refuse(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp <= time.time():
            raise refuse(
                401,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.",
            )
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        iss, sub = claims.get("iss"), claims.get("sub")
        if not any(
            (iss, sub) == (f_iss, f_sub) and f_aud in audiences
            for f_iss, f_sub, f_aud in app.federated
        ):
            raise refuse(
                400,
                "invalid_request",
                70021,
                "No matching federated identity record found for presented assertion. "
                f"Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: "
                f"'{','.join(str(a) for a in audiences)}'. "
                "https://docs.microsoft.com/en-us/azure/active-directory/develop/"
                "workload-identity-federation",
            )

    @staticmethod
    def _aad_error(
        base_url: str,
        status: int,
        error: str,
        code: int,
        message: str,
        *,
        correlation_id: str | None = None,
    ) -> Reply:
        trace_id, stamp = str(uuid.uuid4()), _timestamp()
        correlation_id = correlation_id or str(uuid.uuid4())
        return Reply(
            status,
            {
                "error": error,
                "error_description": f"AADSTS{code}: {message} Trace ID: {trace_id} "
                f"Correlation ID: {correlation_id} Timestamp: {stamp}",
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": f"{base_url}/error?code={code}",
            },
        )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _missing(parameter: str) -> str:
    return f"The request body must contain the following parameter: '{parameter}'."


def _tenant_missing(tenant: str) -> str:
    return (
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud. Check with your subscription administrator, this "
        "may happen if there are no active subscriptions for the tenant."
    )


def _basic_credentials(authorization: str | None) -> tuple[str | None, str | None]:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return (user, password) if sep else (None, None)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def entra_routes(issuer: TokenIssuer) -> list[BaseRoute]:
    """Entra ID's routes for MSAL's client-credentials flow.

    * ``GET /{tenant}/v2.0/.well-known/openid-configuration``: tenant discovery, which MSAL
      fetches once per credential before the first token request.
    * ``GET /{tenant}/discovery/v2.0/keys``: the ``jwks_uri`` it names (no keys; the
      tokens are not signed).
    * ``POST /{tenant}/oauth2/v2.0/token``: the token endpoint.

    Instance discovery (``/common/discovery/instance``) is not served: MSAL sends it to
    ``login.microsoftonline.com`` whatever the authority, so credentials must be built with
    ``disable_instance_discovery=True``.
    """

    async def discovery(request: Request) -> Response:
        reply = issuer.openid_configuration(_base_url(request), request.path_params["tenant"])
        return _json(reply)

    async def keys(request: Request) -> Response:
        return _json(issuer.jwks(_base_url(request), request.path_params["tenant"]))

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        correlation_id = request.headers.get("client-request-id")
        reply = issuer.entra_token(
            _base_url(request),
            request.path_params["tenant"],
            form,
            authorization=request.headers.get("authorization"),
            correlation_id=correlation_id,
        )
        headers = dict(_NO_STORE)
        if correlation_id:
            headers["client-request-id"] = correlation_id
        return _json(reply, headers)

    return [
        Route("/{tenant}/v2.0/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", keys, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
    ]
