"""Values OpenAI's published spec does not accept are refused before anything is sent
(no upload, no request at all), with ``InvalidRequest`` naming the field and the range."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk import DPO, SFT
from ftsdk.errors import InvalidDataset, InvalidRequest
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator
from ftsdk_openai import OpenAIProvider

BASE = "gpt-4o-mini-2024-07-18"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"seed": -1}, ("seed", "0..2147483647")),
        ({"seed": 2**31}, ("seed", "0..2147483647")),
        ({"method": SFT(epochs=51)}, ("method.epochs", "1..50")),
        ({"method": SFT(batch_size=257)}, ("method.batch_size", "1..256")),
        ({"method": DPO(beta=2.5)}, ("method.beta", "0 < beta <= 2")),
        ({"method": DPO(epochs=60)}, ("method.epochs", "1..50")),
        ({"method": DPO(batch_size=300)}, ("method.batch_size", "1..256")),
        ({"metadata": {"k" * 65: "v"}}, ("metadata", "64 characters")),
        ({"metadata": {"k": "v" * 513}}, ("metadata", "512 characters")),
    ],
)
def test_out_of_range_values_are_refused_before_any_request(
    client: ftsdk.Client,
    emulator: Emulator,
    train_path: Path,
    fields: dict[str, Any],
    expected: tuple[str, str],
) -> None:
    field, allowed = expected
    with pytest.raises(InvalidRequest) as caught:
        client.train(base_model=BASE, training_data=train_path, **fields)
    assert caught.value.field == field
    assert allowed in str(caught.value)
    assert caught.value.provider == "openai"
    assert emulator.requests == []  # nothing uploaded, nothing asked


def test_the_spec_limits_themselves_are_accepted(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    job = client.train(
        base_model=BASE,
        training_data=train_path,
        method=SFT(epochs=50, batch_size=256, learning_rate_multiplier=0.01),
        seed=2147483647,
        metadata={f"k{i}": "v" for i in range(15)},
    )
    [made] = emulator.jobs
    assert made.id == job.id
    assert len(made.metadata or {}) == 16  # 15 of the user's and ftsdk's own
    assert made.seed == 2147483647


def test_sixteen_metadata_keys_leave_no_room_for_ftsdks_own(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    """``Metadata`` holds 16 pairs; ftsdk keeps its idempotency key there, so 15 are yours.
    Field report: thiswillbeyourgithub/openwebui_custom_pipes_filters#3 (the live service
    answers 400 ``object_above_max_properties`` past 16; spiceai/docs#928 shows its
    ``string_above_max_length`` for a value over 512 characters)."""
    with pytest.raises(InvalidRequest) as caught:
        client.train(
            base_model=BASE,
            training_data=train_path,
            metadata={f"k{i}": "v" for i in range(16)},
        )
    assert caught.value.field == "metadata"
    assert "15" in str(caught.value)
    assert "ftsdk" in str(caught.value)
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("stop", "allowed"), [(["a", "b", "c", "d", "e"], "1 to 4"), ([], "1 to 4")]
)
def test_chat_stop_outside_the_spec_is_refused_before_the_request(
    client: ftsdk.Client, emulator: Emulator, stop: list[str], allowed: str
) -> None:
    """``StopConfiguration``: up to 4 sequences, ``minItems: 1``."""
    with pytest.raises(InvalidRequest) as caught:
        client.model(BASE).chat("hello", stop=stop)
    assert caught.value.field == "stop"
    assert allowed in str(caught.value)
    assert emulator.requests == []
    with pytest.raises(InvalidRequest):
        list(client.model(BASE).stream("hello", stop=stop))
    assert emulator.requests == []


def test_chat_stop_within_the_spec_is_sent(client: ftsdk.Client) -> None:
    assert client.model(BASE).chat("hello", stop=["a", "b", "c", "d"]).content


def test_the_declared_fewest_examples_are_the_enforced_ones(
    client: ftsdk.Client, emulator: Emulator, tmp_path: Path
) -> None:
    rules = OpenAIProvider.data_rules
    assert rules is not None
    assert rules.min_examples == 10  # OpenAI's fine-tuning guide
    few = write_jsonl(tmp_path / "few.jsonl", date_to_words_examples(rules.min_examples - 1))
    with pytest.raises(InvalidDataset, match=r"9 example\(s\); openai needs at least 10"):
        client.train(base_model=BASE, training_data=few)
    assert emulator.requests == []  # nothing uploaded, nothing asked
    enough = write_jsonl(tmp_path / "enough.jsonl", date_to_words_examples(rules.min_examples))
    client.train(base_model=BASE, training_data=enough)
    assert len(emulator.jobs) == 1
