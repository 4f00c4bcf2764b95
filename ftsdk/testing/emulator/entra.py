"""Offline emulation of Microsoft Entra ID and Azure managed identity, for the real
``azure-identity`` credential classes.

Three pieces:

* :class:`TokenIssuer` holds the state: tenants, app registrations (client secrets and
  federated credentials), managed identities, role assignments, the tokens it issued and
  every token request it answered. Other emulated services ask it who a bearer token
  belongs to with :meth:`TokenIssuer.validate`.
* :func:`entra_routes` and :func:`managed_identity_routes` are the Starlette routes that
  speak the wire protocols: Entra's OpenID discovery and OAuth 2.0 token endpoint
  (``client_credentials`` with a client secret or a federated assertion), the Azure
  Instance Metadata Service (IMDS) token endpoint, and App Service's ``/msi/token``.
* :class:`ServerThread` serves an ASGI app with uvicorn on ``127.0.0.1`` in a background
  thread (HTTP, or HTTPS with a :class:`LocalCA`), and :class:`EntraEmulator` runs both
  halves at once: Entra over HTTPS (MSAL refuses a plain-HTTP authority) and managed
  identity over plain HTTP (as the real endpoints are).

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

import base64
import binascii
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, Self
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ftsdk.testing.emulator.serving import LocalCA, ServerThread

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

DATA_SCOPE: Final = "https://cognitiveservices.azure.com/.default"
"""The Azure OpenAI (Cognitive Services) data-plane scope."""
MANAGEMENT_SCOPE: Final = "https://management.azure.com/.default"
"""The Azure Resource Manager scope."""
CONTRIBUTOR: Final = "Cognitive Services OpenAI Contributor"
"""Role that may upload files, fine-tune and deploy."""
USER: Final = "Cognitive Services OpenAI User"
"""Role that may call inference only."""
DEFAULT_ROLES: Final = frozenset({CONTRIBUTOR})
"""Roles a new principal gets unless told otherwise (pass ``roles=()`` for none)."""
FEDERATED_AUDIENCE: Final = "api://AzureADTokenExchange"
"""The audience Entra expects in a federated (workload identity) assertion."""
DEFAULT_RESOURCES: Final = frozenset(
    {
        "https://cognitiveservices.azure.com",
        "https://ai.azure.com",
        "https://management.azure.com",
        "https://management.core.windows.net",
        "https://ml.azure.com",
        "https://storage.azure.com",
        "https://vault.azure.net",
        "https://graph.microsoft.com",
    }
)
"""Resources the emulated tenant knows; a token for any other is ``AADSTS500011``."""

Endpoint = Literal["entra", "imds", "app_service"]
PrincipalKind = Literal["ServicePrincipal", "ManagedIdentity"]

_JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_RESERVED_SCOPES: Final = frozenset({"openid", "profile", "offline_access", "email"})
_NO_STORE: Final = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


# -- helpers ---------------------------------------------------------------------------
def resource_of(scope: str) -> str:
    """The resource a scope or resource URI names: ``/.default`` and trailing ``/`` dropped.

    ``https://management.azure.com/.default``, ``https://management.azure.com/`` and
    ``https://management.azure.com`` all name ``https://management.azure.com``.
    """
    value = scope.strip()
    if value.endswith("/.default"):
        value = value[: -len("/.default")]
    return value.rstrip("/")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt(claims: Mapping[str, object], *, alg: str = "RS256") -> str:
    """A JWT-shaped string: real header and claims, random bytes for a signature."""
    header = {"typ": "JWT", "alg": alg, "kid": "entra-emulator"}
    parts = [json.dumps(header).encode(), json.dumps(claims).encode(), secrets.token_bytes(32)]
    return ".".join(_b64url(p) for p in parts)


def decode_jwt_claims(token: str) -> dict[str, object] | None:
    """The claims (middle segment) of a JWT, unverified; ``None`` if it is not one."""
    segments = token.split(".")
    if len(segments) != 3:
        return None
    payload = segments[1] + "=" * (-len(segments[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def make_assertion(
    issuer: str,
    subject: str,
    audience: str = FEDERATED_AUDIENCE,
    *,
    lifetime: int = 3600,
) -> str:
    """An (unsigned) federated identity assertion, as a Kubernetes service account token
    or a GitHub OIDC token would be; write it to ``AZURE_FEDERATED_TOKEN_FILE``."""
    now = int(time.time())
    claims = {"iss": issuer, "sub": subject, "aud": audience, "iat": now, "nbf": now}
    return _jwt({**claims, "exp": now + lifetime})


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (any case), if any."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = value.strip()
    return token if scheme.lower() == "bearer" and token else None


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# -- records ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    """Who a token was issued to, with the roles assigned to it when asked.

    ``name`` is the object id, as Azure names a principal in its 403 messages.
    """

    kind: PrincipalKind
    tenant_id: str
    client_id: str
    object_id: str
    display_name: str
    roles: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        """The principal's object id."""
        return self.object_id

    def has_role(self, *roles: str) -> bool:
        """Whether any of ``roles`` is assigned."""
        return not self.roles.isdisjoint(roles)


@dataclass(frozen=True)
class AppRegistration:
    """An app registration (service principal) and the secret it authenticates with."""

    tenant_id: str
    client_id: str
    client_secret: str
    object_id: str


@dataclass(frozen=True)
class ManagedIdentityRegistration:
    """A managed identity; ``system_assigned`` is answered when none is named."""

    tenant_id: str
    client_id: str
    object_id: str
    resource_id: str
    system_assigned: bool


@dataclass(frozen=True)
class IssuedToken:
    """A token the issuer handed out, as :meth:`TokenIssuer.lookup` reports it."""

    access_token: str
    principal: Principal
    scope: str
    """The scope (Entra) or resource (managed identity) as requested."""
    audience: str
    """:func:`resource_of` the scope: what the token may be used for."""
    issued_at: float
    expires_on: float
    endpoint: Endpoint | Literal["direct"]
    revoked: bool = False


@dataclass(frozen=True)
class TokenRequest:
    """One request to a token endpoint and how it was answered."""

    endpoint: Endpoint
    received_at: float
    tenant: str | None
    """The tenant segment of the URL (Entra only)."""
    client_id: str | None
    """The ``client_id`` sent, or the managed identity answered."""
    grant_type: str | None
    scope: str | None
    """``scope`` (Entra) or ``resource`` (managed identity), as sent."""
    status_code: int
    error: str | None = None
    error_code: int | None = None
    """The AADSTS number, where there is one."""
    access_token: str | None = None

    @property
    def ok(self) -> bool:
        """Whether a token was issued."""
        return self.status_code == 200


@dataclass
class _Identity:
    kind: PrincipalKind
    tenant_id: str
    client_id: str
    object_id: str
    display_name: str
    roles: set[str]
    expires_in: int | None = None
    secrets: set[str] = field(default_factory=set)
    federated: list[tuple[str, str, str]] = field(default_factory=list)
    resource_id: str = ""
    system_assigned: bool = False

    def principal(self) -> Principal:
        return Principal(
            self.kind,
            self.tenant_id,
            self.client_id,
            self.object_id,
            self.display_name,
            frozenset(self.roles),
        )


@dataclass
class _Token:
    access_token: str
    object_id: str
    scope: str
    audience: str
    issued_at: float
    expires_on: float
    endpoint: Endpoint | Literal["direct"]
    revoked: bool = False


@dataclass(frozen=True)
class Reply:
    """A protocol answer: HTTP status and JSON body."""

    status_code: int
    body: dict[str, object]


class _Refusal(Exception):
    """Internal: ends a request with an error reply."""

    def __init__(self, reply: Reply, error: str, code: int | None = None) -> None:
        super().__init__(error)
        self.reply, self.error, self.code = reply, error, code


_Refuse = Callable[[int, str, int, str], _Refusal]


# -- the issuer ------------------------------------------------------------------------
class TokenIssuer:
    """The state of the emulated Entra ID tenant(s) and managed identities.

    Thread-safe: the servers answer from their own threads while tests read and change
    it from theirs.

    :param tenant_id: the default tenant (a random GUID if not given).
    :param expires_in: token lifetime in seconds. MSAL treats a token with less than five
        minutes left as expired (so under 300 means a request on every call); to see a
        cached token refreshed use ~302 and wait two seconds. ``get_bearer_token_provider``
        (azure-core's ``BearerTokenCredentialPolicy``) refreshes at 300 s minus a random
        jitter of 0-60 s, so pin ``azure.core.pipeline.policies._authentication.
        MAX_REFRESH_JITTER_SECONDS`` to 0 in such a test.
    :param resources: resources tokens may be requested for (``None``: any).
    :param identity_header: the App Service ``IDENTITY_HEADER`` secret (random if not given).
    :param clock: seconds since the epoch: when tokens are issued and expire, for
        :meth:`validate` and in replies (``expires_on``, the JWT's ``iat``/``exp``). Keep it
        near real time when real clients hold the tokens: they compute expiry themselves.
    """

    def __init__(
        self,
        *,
        tenant_id: str | None = None,
        expires_in: int = 3600,
        resources: Iterable[str] | None = DEFAULT_RESOURCES,
        identity_header: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        self._lock = threading.RLock()
        self._clock = clock
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.identity_header = identity_header or secrets.token_urlsafe(16)
        self._default_expires_in = expires_in
        self._default_resources = None if resources is None else frozenset(resources)
        self._expires_in = expires_in
        self._tenants: dict[str, str] = {}
        self._identities: dict[str, _Identity] = {}
        self._tokens: dict[str, _Token] = {}
        self._requests: list[TokenRequest] = []
        self._resources: set[str] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget every registration, token and request; restore the constructor's
        lifetime and resources. The default tenant and the identity header stay."""
        with self._lock:
            self._tenants.clear()
            self._identities.clear()
            self._tokens.clear()
            self._requests.clear()
            self._resources = (
                None
                if self._default_resources is None
                else {resource_of(r) for r in self._default_resources}
            )
            self._expires_in = self._default_expires_in
            self.add_tenant(self.tenant_id)

    # -- configuration -----------------------------------------------------------------
    @property
    def expires_in(self) -> int:
        """Lifetime, in seconds, of the tokens issued from now on."""
        return self._expires_in

    @expires_in.setter
    def expires_in(self, seconds: int) -> None:
        if seconds <= 0:
            raise ValueError("expires_in must be positive")
        with self._lock:
            self._expires_in = seconds

    def add_tenant(self, tenant_id: str | None = None, *, domains: Iterable[str] = ()) -> str:
        """Register a tenant, reachable by its id and by each of ``domains``."""
        tid = tenant_id or str(uuid.uuid4())
        with self._lock:
            for alias in (tid, *domains):
                self._tenants[alias.lower()] = tid
        return tid

    def add_resource(self, resource: str) -> None:
        """Let tokens be issued for ``resource`` (a URI or a ``/.default`` scope)."""
        with self._lock:
            if self._resources is not None:
                self._resources.add(resource_of(resource))

    def add_app(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        tenant_id: str | None = None,
        display_name: str = "ftsdk-test-app",
        roles: Iterable[str] = DEFAULT_ROLES,
        expires_in: int | None = None,
    ) -> AppRegistration:
        """Register an app (service principal) with one client secret.

        :param expires_in: this app's token lifetime, overriding the issuer's.
        """
        tid = self._tenant(tenant_id or self.tenant_id)
        if tid is None:
            raise KeyError(f"unknown tenant {tenant_id!r}")
        identity = _Identity(
            kind="ServicePrincipal",
            tenant_id=tid,
            client_id=client_id or str(uuid.uuid4()),
            object_id=str(uuid.uuid4()),
            display_name=display_name,
            roles=set(roles),
            expires_in=expires_in,
            secrets={client_secret or secrets.token_urlsafe(30)},
        )
        self._register(identity)
        return AppRegistration(
            tid, identity.client_id, next(iter(identity.secrets)), identity.object_id
        )

    def add_secret(self, client_id: str, secret: str | None = None) -> str:
        """Give an app another valid client secret; returns it."""
        value = secret or secrets.token_urlsafe(30)
        with self._lock:
            self._app(client_id).secrets.add(value)
        return value

    def add_federated_credential(
        self,
        client_id: str,
        *,
        issuer: str,
        subject: str,
        audience: str = FEDERATED_AUDIENCE,
    ) -> None:
        """Trust assertions with this issuer, subject and audience for an app (workload
        identity federation). Assertion signatures are not checked."""
        with self._lock:
            self._app(client_id).federated.append((issuer, subject, audience))

    def add_managed_identity(
        self,
        client_id: str | None = None,
        *,
        system_assigned: bool = False,
        resource_id: str | None = None,
        tenant_id: str | None = None,
        display_name: str = "ftsdk-test-identity",
        roles: Iterable[str] = DEFAULT_ROLES,
        expires_in: int | None = None,
    ) -> ManagedIdentityRegistration:
        """Register a managed identity that IMDS and App Service hand tokens for.

        The system-assigned identity answers requests that name none; otherwise name it by
        ``client_id``, ``object_id`` or resource id.
        """
        tid = self._tenant(tenant_id or self.tenant_id)
        if tid is None:
            raise KeyError(f"unknown tenant {tenant_id!r}")
        cid = client_id or str(uuid.uuid4())
        rid = resource_id or (
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ftsdk-test"
            f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{display_name}-{cid[:8]}"
        )
        identity = _Identity(
            kind="ManagedIdentity",
            tenant_id=tid,
            client_id=cid,
            object_id=str(uuid.uuid4()),
            display_name=display_name,
            roles=set(roles),
            expires_in=expires_in,
            resource_id=rid,
            system_assigned=system_assigned,
        )
        self._register(identity)
        return ManagedIdentityRegistration(tid, cid, identity.object_id, rid, system_assigned)

    def assign_role(self, principal_id: str, role: str) -> None:
        """Assign ``role`` to a principal (by client id or object id); takes effect at once,
        also for tokens already issued."""
        with self._lock:
            self._find(principal_id).roles.add(role)

    def remove_role(self, principal_id: str, role: str) -> None:
        """Remove a role assignment, if there is one."""
        with self._lock:
            self._find(principal_id).roles.discard(role)

    def principal(self, principal_id: str) -> Principal:
        """A registered principal by client id or object id; ``KeyError`` if none."""
        with self._lock:
            return self._find(principal_id).principal()

    # -- tokens ------------------------------------------------------------------------
    def issue_token(self, principal_id: str, scope: str, *, expires_in: int | None = None) -> str:
        """Issue a token directly, without a token request (e.g. for a fake ``az`` CLI).
        It is not counted in :attr:`requests`."""
        with self._lock:
            identity = self._find(principal_id)
            return self._issue(identity, scope, "direct", expires_in)[0]

    def validate(self, token: str, scope: str) -> Principal | None:
        """Who ``token`` was issued to, if it is known, unexpired, not revoked and issued
        for the resource of ``scope`` (a ``/.default`` scope or a resource URI)."""
        with self._lock:
            record = self._tokens.get(token)
            if record is None or record.revoked or self._clock() >= record.expires_on:
                return None
            if record.audience.casefold() != resource_of(scope).casefold():
                return None
            return self._identities[record.object_id].principal()

    def lookup(self, token: str) -> IssuedToken | None:
        """Everything known about a token the issuer issued, valid or not."""
        with self._lock:
            r = self._tokens.get(token)
            if r is None:
                return None
            principal = self._identities[r.object_id].principal()
            return IssuedToken(
                r.access_token,
                principal,
                r.scope,
                r.audience,
                r.issued_at,
                r.expires_on,
                r.endpoint,
                r.revoked,
            )

    def revoke(self, token: str) -> bool:
        """Make a token invalid; returns whether it was known."""
        with self._lock:
            record = self._tokens.get(token)
            if record is not None:
                record.revoked = True
            return record is not None

    @property
    def requests(self) -> list[TokenRequest]:
        """Every token request answered, oldest first."""
        with self._lock:
            return list(self._requests)

    def issued(
        self,
        *,
        endpoint: Endpoint | None = None,
        client_id: str | None = None,
        scope: str | None = None,
    ) -> list[TokenRequest]:
        """The token requests that got a token, optionally filtered; ``scope`` matches by
        resource, so ``https://x/.default`` matches a managed identity's ``https://x``."""
        return [
            r
            for r in self.requests
            if r.ok
            and (endpoint is None or r.endpoint == endpoint)
            and (client_id is None or r.client_id == client_id)
            and (scope is None or resource_of(r.scope or "") == resource_of(scope))
        ]

    # -- protocol: Entra ---------------------------------------------------------------
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

    # -- protocol: managed identity ----------------------------------------------------
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

    # -- internals ---------------------------------------------------------------------
    def _tenant(self, tenant: str) -> str | None:
        with self._lock:
            return self._tenants.get(tenant.lower())

    def _register(self, identity: _Identity) -> None:
        with self._lock:
            known = self._identities.values()
            if any(i.client_id == identity.client_id for i in known):
                raise ValueError(f"client id {identity.client_id!r} is already registered")
            if identity.system_assigned and any(i.system_assigned for i in known):
                raise ValueError("there is already a system-assigned managed identity")
            self._identities[identity.object_id] = identity

    def _app(self, client_id: str) -> _Identity:
        for identity in self._identities.values():
            if identity.kind == "ServicePrincipal" and identity.client_id == client_id:
                return identity
        raise KeyError(f"no app registration with client id {client_id!r}")

    def _find(self, principal_id: str) -> _Identity:
        if principal_id in self._identities:
            return self._identities[principal_id]
        for identity in self._identities.values():
            if identity.client_id == principal_id:
                return identity
        raise KeyError(f"no principal with client or object id {principal_id!r}")

    def _known_resource(self, scope: str) -> bool:
        return self._resources is None or resource_of(scope) in self._resources

    def _issue(
        self,
        identity: _Identity,
        scope: str,
        endpoint: Endpoint | Literal["direct"],
        expires_in: int | None,
    ) -> tuple[str, int]:
        lifetime = expires_in or identity.expires_in or self._expires_in
        now = self._clock()
        sts = f"https://sts.windows.net/{identity.tenant_id}/"
        claims: dict[str, object] = {
            "aud": scope.removesuffix("/.default"),
            "iss": sts,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + lifetime,
            "appid": identity.client_id,
            "appidacr": "2" if identity.kind == "ManagedIdentity" else "1",
            "idp": sts,
            "idtyp": "app",
            "oid": identity.object_id,
            "sub": identity.object_id,
            "tid": identity.tenant_id,
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        if identity.kind == "ManagedIdentity":
            claims["xms_mirid"] = identity.resource_id
        token = _jwt(claims)
        self._tokens[token] = _Token(
            token, identity.object_id, scope, resource_of(scope), now, now + lifetime, endpoint
        )
        return token, lifetime

    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self._requests.append(request)

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


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII text."""
    return secrets.compare_digest(given.encode(), expected.encode())


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


def _resource_missing(resource: str, tenant: str) -> str:
    return (
        f"The resource principal named {resource_of(resource)} was not found in the tenant "
        f"named {tenant}. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You might "
        "have sent your authentication request to the wrong tenant."
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


# -- routes ----------------------------------------------------------------------------
def _json(reply: Reply, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status_code, headers=dict(headers or {}))


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


# -- serving ---------------------------------------------------------------------------
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
