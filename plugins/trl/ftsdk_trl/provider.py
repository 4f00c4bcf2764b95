"""The Hugging Face TRL (local) provider."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from ftsdk import Capabilities, Provider, ProviderOptions
from ftsdk.credentials import resolve_secret, resolve_setting

__all__ = ["TRLProvider", "TRLOptions"]

DEFAULT_HOME = "~/.cache/ftsdk"


class TRLOptions(ProviderOptions):
    """Keys accepted in ``JobSpec.provider_options`` (none yet)."""


class TRLProvider(Provider):
    """Hugging Face TRL (local).

    Declares no operations yet: background TRL jobs land with the TRL provider issue.
    """

    name = "trl"
    display_name = "Hugging Face TRL (local)"
    capabilities = Capabilities()
    Options = TRLOptions
    credential_env_vars = (
        "FTSDK_HOME",
        "HF_TOKEN",
    )

    def __init__(self, *, home: str | None = None, hf_token: str | SecretStr | None = None) -> None:
        self.home = Path(resolve_setting(home, ["FTSDK_HOME"]) or DEFAULT_HOME).expanduser()
        self.hf_token = resolve_secret(
            hf_token, ["HF_TOKEN"], provider=self.name, argument="hf_token", required=False
        )
