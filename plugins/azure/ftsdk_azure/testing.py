"""Pointing the Azure provider at ftsdk's offline emulator, for your own tests::

with Emulator() as emu:
    client = ftsdk.client("azure", **emulator_settings(emu, mode="entra"))
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ftsdk.testing.emulator import Emulator

__all__ = ["emulator_settings"]


def emulator_settings(
    emu: Emulator,
    *,
    mode: Literal["api-key", "entra"] = "api-key",
    home: str | Path | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Settings for ``ftsdk.client("azure", ...)`` against ``emu``.

    ``mode="api-key"`` uses the emulator's key on the data plane; ``"entra"`` a real
    ``azure.identity.ClientSecretCredential`` of a new app registration (Contributor role)
    that gets its tokens from the emulated Entra ID. Resource Manager always uses the
    credential, as on Azure.
    """
    from azure.identity import ClientSecretCredential

    app = emu.issuer.add_app()
    credential = ClientSecretCredential(
        app.tenant_id, app.client_id, app.client_secret, **emu.entra.credential_kwargs()
    )
    subscription, group, account = emu.config.azure_account
    settings: dict[str, Any] = {
        "endpoint": emu.url,
        "credential": credential,
        "subscription_id": subscription,
        "resource_group": group,
        "account": account,
        "arm_endpoint": emu.url,
        "deploy_poll_interval": 0.01,
        **extra,
    }
    if home is not None:
        settings["home"] = home
    if mode == "api-key":
        settings["api_key"] = emu.api_key
    return settings
