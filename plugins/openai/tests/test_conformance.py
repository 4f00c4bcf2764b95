"""OpenAI runs the ftsdk conformance kit: its declaration, and its behaviour against the
emulator (frozen clock; errors provoked with the emulator's scripted faults)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ftsdk import Client, JobSpec, JobStatus
from ftsdk.testing.behaviour import ERRORS, Harness, ProviderBehaviour
from ftsdk.testing.conformance import ProviderConformance
from ftsdk.testing.emulator import Emulator
from ftsdk_openai import OpenAIProvider

BASE = "gpt-4o-mini-2024-07-18"
STATUSES = {  # FineTuningJob.status in OpenAI's API reference
    "validating_files": JobStatus.VALIDATING,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "paused": JobStatus.PAUSED,
    "succeeded": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
}


class TestOpenAIDeclaration(ProviderConformance):
    provider_class = OpenAIProvider
    provider_kwargs = {"api_key": "sk-conformance-secret-1234"}
    secret_values = ("sk-conformance-secret-1234",)
    entry_point = "openai"


def scripted(emulator: Emulator, status: int) -> Callable[[Client], object]:
    """A chat whose request the emulator answers ``status``."""

    def call(client: Client) -> object:
        emulator.faults.add("POST /chat/completions", status=status)
        return client.model(BASE).chat("hello")

    return call


class TestOpenAIBehaviour(ProviderBehaviour):
    @pytest.fixture
    def harness(self, emulator: Emulator, train_path: Path, tmp_path: Path) -> Harness:
        provider = OpenAIProvider(
            api_key=emulator.api_key, base_url=emulator.openai_base_url, home=tmp_path / "home"
        )
        return Harness(
            provider,
            training=JobSpec(base_model=BASE, training_data=train_path),
            chat_model=BASE,
            statuses=STATUSES,
            errors={status: scripted(emulator, status) for status in ERRORS},
            secrets=(emulator.api_key,),
            advance=lambda: emulator.advance(30),
        )
