"""The Hugging Face AutoTrain provider."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from ftsdk import Capabilities, Provider, ProviderOptions
from ftsdk.credentials import resolve_secret, resolve_setting

__all__ = ["AutoTrainProvider", "AutoTrainOptions"]

DEFAULT_HOME = "~/.cache/ftsdk"


class AutoTrainOptions(ProviderOptions):
    """Keys accepted in ``JobSpec.provider_options`` (none yet)."""


class AutoTrainProvider(Provider):
    """Hugging Face AutoTrain.

    Declares no operations yet: AutoTrain jobs in their own runtime venv land with the
    AutoTrain provider issue.
    """

    name = "autotrain"
    display_name = "Hugging Face AutoTrain"
    capabilities = Capabilities()
    Options = AutoTrainOptions
    credential_env_vars = (
        "FTSDK_HOME",
        "HF_TOKEN",
    )

    def __init__(self, *, home: str | None = None, hf_token: str | SecretStr | None = None) -> None:
        self.home = Path(resolve_setting(home, ["FTSDK_HOME"]) or DEFAULT_HOME).expanduser()
        self.hf_token = resolve_secret(
            hf_token, ["HF_TOKEN"], provider=self.name, argument="hf_token", required=False
        )
