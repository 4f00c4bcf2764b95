from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator
from ftsdk.testing.fixtures import emulator
from ftsdk_azure.testing import emulator_settings

__all__ = ["emulator"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Azure setting of this machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "MSI_")) or name in (
            "OPENAI_API_VERSION",
            "REQUESTS_CA_BUNDLE",
            "CURL_CA_BUNDLE",
            "SSL_CERT_FILE",
        ):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(emulator: Emulator, tmp_path: Path) -> Any:
    """``settings(mode, **extra)``: the emulator's settings for ``ftsdk.client("azure")``."""

    def make(mode: str, **extra: Any) -> dict[str, Any]:
        return emulator_settings(emulator, mode=mode, home=tmp_path / "home", **extra)

    return make


@pytest.fixture(params=["api-key", "entra"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(emulator: Emulator, mode: str, tmp_path: Path) -> Iterator[ftsdk.Client]:
    emulator.clock.speed = 500
    policy = ftsdk.RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05)
    with ftsdk.client(
        "azure", retry=policy, **emulator_settings(emulator, mode=mode, home=tmp_path / "home")
    ) as c:
        yield c


@pytest.fixture
def train_path(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(30))
