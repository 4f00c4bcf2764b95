"""The OpenAI provider."""

from __future__ import annotations

from pydantic import SecretStr

from ftsdk import Capabilities, Provider, ProviderOptions
from ftsdk.credentials import resolve_secret, resolve_setting

__all__ = ["OpenAIProvider", "OpenAIOptions"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIOptions(ProviderOptions):
    """Keys accepted in ``JobSpec.provider_options`` (none yet)."""


class OpenAIProvider(Provider):
    """OpenAI.

    Declares no operations yet: the files, jobs and inference of the OpenAI API land with
    the OpenAI provider issue.
    """

    name = "openai"
    display_name = "OpenAI"
    capabilities = Capabilities()
    Options = OpenAIOptions
    credential_env_vars = (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
    )

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
    ) -> None:
        self.api_key = resolve_secret(
            api_key, ["OPENAI_API_KEY"], provider=self.name, argument="api_key"
        )
        self.base_url = resolve_setting(base_url, ["OPENAI_BASE_URL"]) or DEFAULT_BASE_URL
        self.organization = resolve_setting(organization, ["OPENAI_ORG_ID"])
        self.project = resolve_setting(project, ["OPENAI_PROJECT_ID"])
