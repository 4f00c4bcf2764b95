"""The directory: the state behind the emulated Entra ID tenant(s) and managed identities:
tenants, app registrations (client secrets, federated credentials), managed identities,
role assignments, the tokens issued and the token requests answered. The protocols that
hand out tokens build on it (:mod:`.authority`, :mod:`.managed_identity`).
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Literal

from ftsdk_emulator.entra.records import (
    AppRegistration,
    Endpoint,
    IssuedToken,
    ManagedIdentityRegistration,
    Principal,
    TokenRequest,
    _Identity,
)
from ftsdk_emulator.entra.tokens import (
    DEFAULT_RESOURCES,
    DEFAULT_ROLES,
    FEDERATED_AUDIENCE,
    _b64url,
    _jwt,
    resource_of,
)

__all__: list[str] = []


class _Directory:
    """What :class:`~ftsdk_emulator.entra.TokenIssuer` knows; its parameters are
    documented there."""

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
        self._tokens: dict[str, IssuedToken] = {}
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
            return self._identities[record.principal.object_id].principal()

    def lookup(self, token: str) -> IssuedToken | None:
        """Everything known about a token the issuer issued, valid or not."""
        with self._lock:
            record = self._tokens.get(token)
            if record is None:
                return None
            principal = self._identities[record.principal.object_id].principal()
            return dataclasses.replace(record, principal=principal)

    def revoke(self, token: str) -> bool:
        """Make a token invalid; returns whether it was known."""
        with self._lock:
            record = self._tokens.get(token)
            if record is not None:
                self._tokens[token] = dataclasses.replace(record, revoked=True)
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
        # Stored with the principal as it is now; validate() and lookup() read it afresh,
        # so that role changes apply to tokens already issued.
        self._tokens[token] = IssuedToken(
            token, identity.principal(), scope, resource_of(scope), now, now + lifetime, endpoint
        )
        return token, lifetime

    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self._requests.append(request)


def _resource_missing(resource: str, tenant: str) -> str:
    return (
        f"The resource principal named {resource_of(resource)} was not found in the tenant "
        f"named {tenant}. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You might "
        "have sent your authentication request to the wrong tenant."
    )
