"""Who may call: OpenAI API keys, Azure ``api-key`` headers, and Entra ID bearer tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request

from ftsdk_emulator.entra import (
    CONTRIBUTOR,
    DATA_SCOPE,
    MANAGEMENT_SCOPE,
    USER,
    Principal,
    bearer_token,
)

if TYPE_CHECKING:
    from ftsdk_emulator.state import Flavor, Store

__all__ = ["Authenticator", "TokenValidator", "mask_key"]


class TokenValidator(Protocol):
    """Checks a bearer token: who it was issued to, if it is valid for ``scope``."""

    def validate(self, token: str, scope: str) -> Principal | None: ...


def mask_key(key: str) -> str:
    """Show a key the way OpenAI's 401 does: its ends, the middle starred."""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"


class Authenticator:
    """Authentication for every route; raises the flavor's own 401/403."""

    def __init__(self, store: Store, tokens: TokenValidator | None = None) -> None:
        self.store = store
        self.tokens = tokens

    def _principal(self, token: str, scope: str) -> Principal | None:
        return None if self.tokens is None else self.tokens.validate(token, scope)

    def check_service(self, request: Request, flavor: Flavor) -> None:
        """OpenAI: ``Authorization: Bearer <key>``. Azure: ``api-key`` or an Entra token for
        the Cognitive Services scope (the v1 API also takes the key as a bearer)."""
        from ftsdk_emulator.service import ApiError

        keys = self.store.config.api_keys
        bearer = bearer_token(request)
        if flavor == "openai":
            if bearer is None:
                raise ApiError(
                    401,
                    "You didn't provide an API key. You need to provide your API "
                    "key in an Authorization header using Bearer auth (i.e. "
                    "Authorization: Bearer YOUR_KEY).",
                )
            if bearer not in keys:
                raise ApiError(
                    401,
                    f"Incorrect API key provided: {mask_key(bearer)}. You can "
                    "find your API key at https://platform.openai.com/account/api-keys.",
                    code="invalid_api_key",
                )
            return
        api_key = request.headers.get("api-key")
        if api_key is not None or (bearer is not None and bearer in keys):
            if (api_key or bearer) in keys:
                return
            raise ApiError(
                401,
                "Access denied due to invalid subscription key or wrong API "
                "endpoint. Make sure to provide a valid key for an active "
                "subscription and use a correct regional API endpoint for your "
                "resource.",
                code="401",
            )
        principal = self._principal(bearer, DATA_SCOPE) if bearer else None
        if principal is None:
            raise ApiError(
                401,
                "Unauthorized. Access token is missing, invalid, audience is "
                "incorrect (https://cognitiveservices.azure.com), or have expired.",
                code="401",
            )
        inference = request.url.path.endswith("/chat/completions")
        if not principal.roles & ({CONTRIBUTOR, USER} if inference else {CONTRIBUTOR}):
            raise ApiError(
                401,
                f"The principal `{principal.name}` lacks the required data "
                "action `Microsoft.CognitiveServices/accounts/OpenAI/*` to perform "
                f"`{request.method} {request.url.path}` operation.",
                code="PermissionDenied",
            )

    def check_arm(self, request: Request, scope_path: str) -> None:
        """Azure Resource Manager: an Entra token for the management scope, with a role
        that may write deployments."""
        from ftsdk_emulator.service import ApiError

        bearer = bearer_token(request)
        if bearer is None:
            raise ApiError(
                401,
                "The request did not have a subscription or a valid tenant "
                "level resource provider.",
                code="AuthenticationFailed",
            )
        principal = self._principal(bearer, MANAGEMENT_SCOPE)
        if principal is None:
            raise ApiError(401, "The access token is invalid.", code="InvalidAuthenticationToken")
        if request.method != "GET" and CONTRIBUTOR not in principal.roles:
            action = "delete" if request.method == "DELETE" else "write"
            raise ApiError(
                403,
                f"The client '{principal.name}' with object id "
                f"'{principal.name}' does not have authorization to perform action "
                f"'Microsoft.CognitiveServices/accounts/deployments/{action}' over "
                f"scope '{scope_path}' or the scope is invalid. If access was "
                "recently granted, please refresh your credentials.",
                code="AuthorizationFailed",
            )
