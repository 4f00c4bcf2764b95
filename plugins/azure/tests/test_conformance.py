"""Azure OpenAI runs the ftsdk conformance kit: its declaration, and its behaviour against
the emulator's Azure flavor (API key on the data plane; chat through a deployment; errors
provoked with the emulator's scripted faults)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ftsdk import Client, JobSpec, JobStatus
from ftsdk.testing.behaviour import ERRORS, Harness, ProviderBehaviour
from ftsdk.testing.conformance import ProviderConformance
from ftsdk.testing.emulator import Emulator
from ftsdk_azure import AzureOpenAIProvider
from ftsdk_azure.testing import emulator_settings

BASE = "gpt-4o-mini-2024-07-18"
STATUSES = {  # Azure's FineTuningState (2024-10-21) and the v1 API's FineTuningJob.status
    "created": JobStatus.QUEUED,
    "pending": JobStatus.QUEUED,
    "validating_files": JobStatus.VALIDATING,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "paused": JobStatus.PAUSED,
    "succeeded": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
}


class TestAzureOpenAIDeclaration(ProviderConformance):
    provider_class = AzureOpenAIProvider
    provider_kwargs = {
        "endpoint": "https://example.openai.azure.com",
        "api_key": "azure-conformance-secret",
    }
    secret_values = ("azure-conformance-secret",)
    entry_point = "azure"


def scripted(emulator: Emulator, status: int, model: str) -> Callable[[Client], object]:
    """A chat with the deployment whose request the emulator answers ``status``."""

    def call(client: Client) -> object:
        emulator.faults.add("POST /chat/completions", status=status)
        return client.model(model, kind="deployment").chat("hello")

    return call


class TestAzureOpenAIBehaviour(ProviderBehaviour):
    @pytest.fixture
    def harness(self, emulator: Emulator, train_path: Path, tmp_path: Path) -> Harness:
        settings = emulator_settings(emulator, mode="api-key", home=tmp_path / "home")
        provider = AzureOpenAIProvider(**settings)
        emulator.clock.speed = 50_000  # a deployment provisions in emulated minutes
        deployed = Client(provider).model(BASE).deploy("conformance")
        emulator.clock.speed = 0  # then jobs move only when the kit advances them
        return Harness(
            provider,
            training=JobSpec(base_model=BASE, training_data=train_path),
            chat_model=deployed.info,
            statuses=STATUSES,
            errors={status: scripted(emulator, status, deployed.id) for status in ERRORS},
            secrets=(emulator.api_key,),
            advance=lambda: emulator.advance(30),
        )
