"""The Azure OpenAI provider."""

from __future__ import annotations

from pydantic import SecretStr

from ftsdk import Capabilities, Provider, ProviderOptions
from ftsdk.credentials import resolve_secret, resolve_setting

__all__ = ["AzureOpenAIProvider", "AzureOpenAIOptions"]

API_VERSION = "2024-10-21"


class AzureOpenAIOptions(ProviderOptions):
    """Keys accepted in ``JobSpec.provider_options`` (none yet)."""


class AzureOpenAIProvider(Provider):
    """Azure OpenAI.

    Declares no operations yet: fine-tuning, ARM deployment and inference land with the
    Azure provider issue.
    """

    name = "azure"
    display_name = "Azure OpenAI"
    capabilities = Capabilities()
    Options = AzureOpenAIOptions
    credential_env_vars = (
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_KEY",
        "OPENAI_API_VERSION",
    )

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        api_key: str | SecretStr | None = None,
        api_version: str | None = None,
    ) -> None:
        self.endpoint = resolve_setting(endpoint, ["AZURE_OPENAI_ENDPOINT"])
        # No key means Microsoft Entra ID (azure-identity), resolved when first needed.
        self.api_key = resolve_secret(
            api_key,
            ["AZURE_OPENAI_API_KEY"],
            provider=self.name,
            argument="api_key",
            required=False,
        )
        self.api_version = resolve_setting(api_version, ["OPENAI_API_VERSION"]) or API_VERSION
