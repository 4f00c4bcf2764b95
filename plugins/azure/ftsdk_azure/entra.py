"""Microsoft Entra ID tokens for Azure OpenAI and Resource Manager.

azure-identity's failures (a ``ClientAuthenticationError`` with every credential's story)
become ftsdk errors that say what to set; the original is chained for whoever debugs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from ftsdk import errors

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.exceptions import ClientAuthenticationError

__all__ = ["CHOICES", "auth_error", "token_provider"]

CHOICES = (
    "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service principal), "
    "run where a managed identity is assigned, or run `az login`"
)
"""The ways to give Microsoft Entra ID credentials that ``DefaultAzureCredential`` finds."""
CHAIN_FAILED = "failed to retrieve a token from the included credentials"
"""What a ``ChainedTokenCredential`` (``DefaultAzureCredential``) says when none worked."""
REFUSAL = re.compile(r"AADSTS\d+: [^\n]*?(?=\. |\.?$)", re.MULTILINE)
"""Entra ID's reason for refusing a credential: its code and first sentence."""
MAX_REASON = 300


def _wants(scope: str) -> str:
    """What the token is for, and whether an API key would do instead."""
    if scope.startswith("https://management."):
        return "Azure Resource Manager (deployments) takes Microsoft Entra ID only, no API key"
    return "Azure OpenAI without AZURE_OPENAI_API_KEY uses Microsoft Entra ID"


def auth_error(err: ClientAuthenticationError, scope: str) -> errors.FtsdkError:
    """The ftsdk error for ``err``, raised by a credential asked for a token for ``scope``.

    No credential could try (none configured, every one in a chain unavailable):
    :class:`~ftsdk.errors.MissingCredentials`. One tried and Entra ID refused it:
    :class:`~ftsdk.errors.AuthenticationError` with Entra ID's first line (an ``AADSTS``
    code and reason; never a secret: Entra ID does not echo them).
    """
    from azure.identity import CredentialUnavailableError

    wants = _wants(scope)
    arm = scope.startswith("https://management.")
    text = str(getattr(err, "message", None) or err).strip()
    # A chain that stopped at a refusal (e.g. EnvironmentCredential with a wrong secret)
    # quotes Entra ID's AADSTS line among its attempts: that is the reason to give.
    refused = REFUSAL.search(text)
    if isinstance(err, CredentialUnavailableError) or (CHAIN_FAILED in text and not refused):
        key = "" if arm else "set AZURE_OPENAI_API_KEY, or "
        return errors.MissingCredentials(
            f"no Microsoft Entra ID credential could get a token ({wants}): {key}{CHOICES}",
            provider="azure",
        )
    reason = (refused[0] if refused else text.splitlines()[0] if text else type(err).__name__)[
        :MAX_REASON
    ]
    instead = "" if arm else ", set AZURE_OPENAI_API_KEY instead"
    return errors.AuthenticationError(
        f"Microsoft Entra ID refused the credential ({wants}): {reason}. Check its tenant, "
        f"client id and secret (or certificate){instead}, or use another credential: "
        f"{CHOICES}",
        provider="azure",
        status_code=401,
    )


def token_provider(credential: TokenCredential, scope: str) -> Callable[[], str]:
    """A bearer-token function for ``scope`` (cached and refreshed by azure-identity) whose
    failures are ftsdk errors (:func:`auth_error`), the original chained."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import get_bearer_token_provider

    fetch = get_bearer_token_provider(credential, scope)

    def token() -> str:
        try:
            return fetch()
        except ClientAuthenticationError as err:
            raise auth_error(err, scope) from err

    return token
