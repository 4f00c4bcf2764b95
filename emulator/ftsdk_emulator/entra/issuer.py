"""The token issuer: the directory's state with both protocols that hand out its tokens,
Entra ID's and managed identity's."""

from __future__ import annotations

from ftsdk_emulator.entra.authority import _EntraAuthority
from ftsdk_emulator.entra.managed_identity import _ManagedIdentityEndpoints

__all__ = ["TokenIssuer"]


class TokenIssuer(_EntraAuthority, _ManagedIdentityEndpoints):
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
