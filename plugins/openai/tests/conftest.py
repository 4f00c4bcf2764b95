from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import ftsdk
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator
from ftsdk.testing.fixtures import emulator

__all__ = ["emulator"]


@pytest.fixture
def client(emulator: Emulator, tmp_path: Path) -> Iterator[ftsdk.Client]:
    """ftsdk's OpenAI client on the emulator, with a fast retry policy and a fast clock."""
    emulator.clock.speed = 500
    policy = ftsdk.RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05)
    with ftsdk.client(
        "openai",
        api_key=emulator.api_key,
        base_url=emulator.openai_base_url,
        home=tmp_path / "home",
        retry=policy,
    ) as c:
        yield c


@pytest.fixture
def train_path(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(30))


@pytest.fixture
def valid_path(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "valid.jsonl", date_to_words_examples(10, seed=7))
