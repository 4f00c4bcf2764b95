"""OpenAI runs the ftsdk conformance suite."""

from __future__ import annotations

from ftsdk.testing.conformance import ProviderConformance
from ftsdk_openai import OpenAIProvider


class TestOpenAIProviderConformance(ProviderConformance):
    provider_class = OpenAIProvider
    provider_kwargs = {"api_key": "sk-conformance-secret-1234"}
    secret_values = ("sk-conformance-secret-1234",)
    entry_point = "openai"
