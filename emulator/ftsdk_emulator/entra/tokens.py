"""Tokens: the scopes and roles the emulated tenant knows, and JWT-shaped tokens (made,
read back, and taken from an ``Authorization`` header). The tokens carry real claims but
random bytes for a signature: nothing here verifies one.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Mapping
from typing import Final

from starlette.requests import Request

__all__ = [
    "CONTRIBUTOR",
    "DATA_SCOPE",
    "DEFAULT_RESOURCES",
    "DEFAULT_ROLES",
    "FEDERATED_AUDIENCE",
    "MANAGEMENT_SCOPE",
    "USER",
    "bearer_token",
    "decode_jwt_claims",
    "make_assertion",
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


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII text."""
    return secrets.compare_digest(given.encode(), expected.encode())
