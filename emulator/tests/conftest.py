from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.fixtures import emulator, openai_client
from ftsdk_emulator.hub import HubEmulator

__all__ = ["emulator", "openai_client"]


@pytest.fixture
def train_path(tmp_path: Path) -> Path:
    """24 date-to-words chat examples."""
    return write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(24))


@pytest.fixture
def hub() -> Iterator[HubEmulator]:
    """The Hub emulator, user ``alice``; its token is ``hub.token``."""
    with HubEmulator(token="hf_emulated_secret_token_77", user="alice") as emulated:
        yield emulated


@pytest.fixture
def api(hub: HubEmulator) -> HfApi:
    """huggingface_hub's client on :func:`hub`, with its token."""
    return HfApi(endpoint=hub.url, token=hub.token)
