"""Errors from Azure OpenAI name Azure OpenAI, not OpenAI (issue 16.7)."""

from __future__ import annotations

from typing import Any

import pytest

import ftsdk
from ftsdk.errors import ProviderUnavailable
from ftsdk.testing.emulator import Emulator


def test_a_connection_failure_names_azure_openai(emulator: Emulator, settings: Any) -> None:
    emulator.faults.add("GET /fine_tuning/jobs", drop="before", times=None)
    policy = ftsdk.RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02)
    client = ftsdk.client("azure", retry=policy, **settings("api-key"))
    with pytest.raises(ProviderUnavailable) as caught:
        client.jobs()
    assert str(caught.value).startswith("connection to Azure OpenAI failed")
    assert caught.value.provider == "azure"
