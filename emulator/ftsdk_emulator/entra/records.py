"""Records: who tokens are issued to (principals and their registrations), the tokens
issued and the token requests answered, as the issuer reports them; and :class:`Reply`,
a protocol answer (HTTP status and JSON body).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from starlette.responses import JSONResponse

__all__ = [
    "AppRegistration",
    "Endpoint",
    "IssuedToken",
    "ManagedIdentityRegistration",
    "Principal",
    "PrincipalKind",
    "Reply",
    "TokenRequest",
]

Endpoint = Literal["entra", "imds", "app_service"]
PrincipalKind = Literal["ServicePrincipal", "ManagedIdentity"]


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


def _json(reply: Reply, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status_code, headers=dict(headers or {}))
