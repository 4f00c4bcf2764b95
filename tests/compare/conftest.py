"""An emulator, an OpenAI client on it, a finished fine-tuning job on dates-to-words, an
eval set drawn from its training data, and a few-shot pool kept apart from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(clock_speed=500) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator, tmp_path: Path) -> Iterator[ftsdk.Client]:
    policy = ftsdk.RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02)
    with ftsdk.client(
        "openai",
        api_key=emu.api_key,
        base_url=emu.openai_base_url,
        home=tmp_path / "home",
        retry=policy,
    ) as c:
        yield c


@pytest.fixture
def rows() -> list[dict[str, Any]]:
    return date_to_words_examples(40)


@pytest.fixture
def job(client: ftsdk.Client, rows: list[dict[str, Any]], tmp_path: Path) -> ftsdk.Job:
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    valid = write_jsonl(tmp_path / "valid.jsonl", date_to_words_examples(10, seed=3))
    job = client.train(base_model=BASE, training_data=train, validation_data=valid, suffix="dates")
    return job.wait(poll_interval=0.02, progress=False)


@pytest.fixture
def eval_set(rows: list[dict[str, Any]], tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "eval.jsonl", rows[:10])


@pytest.fixture
def pool(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "pool.jsonl", date_to_words_examples(12, seed=9))
