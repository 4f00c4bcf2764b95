"""Hugging Face TRL (local) runs the ftsdk conformance suite."""

from __future__ import annotations

from ftsdk.testing.conformance import ProviderConformance
from ftsdk_trl import TRLProvider


class TestTRLProviderConformance(ProviderConformance):
    provider_class = TRLProvider
    provider_kwargs = {"hf_token": "hf_conformance_secret"}
    secret_values = ("hf_conformance_secret",)
    entry_point = "trl"
