"""Hugging Face AutoTrain runs the ftsdk conformance suite."""

from __future__ import annotations

from ftsdk.testing.conformance import ProviderConformance
from ftsdk_autotrain import AutoTrainProvider


class TestAutoTrainProviderConformance(ProviderConformance):
    provider_class = AutoTrainProvider
    provider_kwargs = {"hf_token": "hf_conformance_secret"}
    secret_values = ("hf_conformance_secret",)
    entry_point = "autotrain"
