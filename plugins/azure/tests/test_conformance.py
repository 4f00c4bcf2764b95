"""Azure OpenAI runs the ftsdk conformance suite."""

from __future__ import annotations

from ftsdk.testing.conformance import ProviderConformance
from ftsdk_azure import AzureOpenAIProvider


class TestAzureOpenAIProviderConformance(ProviderConformance):
    provider_class = AzureOpenAIProvider
    provider_kwargs = {
        "endpoint": "https://example.openai.azure.com",
        "api_key": "azure-conformance-secret",
    }
    secret_values = ("azure-conformance-secret",)
    entry_point = "azure"
