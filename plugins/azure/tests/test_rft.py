"""Reinforcement fine-tuning on Azure OpenAI through ftsdk: the v1 API takes it (the
emulator checks the request), a ``python`` grader is refused before any request, and the
dated API, which has no ``method``, does not train with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk import RFT, JobStatus
from ftsdk.errors import InvalidRequest, UnsupportedOperation
from ftsdk.graders import Multi, Python, StringCheck
from ftsdk.testing.data import arithmetic_prompts as prompts
from ftsdk.testing.data import write_jsonl
from ftsdk.testing.emulator import Emulator

BASE = "o4-mini-2025-04-16"
EXACT = StringCheck(
    name="exact", input="{{sample.output_text}}", reference="{{item.answer}}", operation="eq"
)


@pytest.fixture
def azure(emulator: Emulator, settings: Any) -> Iterator[Any]:
    """``azure(api_version)``: a client with an API key on that version."""
    emulator.clock.speed = 500
    policy = ftsdk.RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05)
    made: list[ftsdk.Client] = []

    def make(api_version: str = "v1") -> ftsdk.Client:
        made.append(
            ftsdk.client("azure", retry=policy, **settings("api-key", api_version=api_version))
        )
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    return (
        write_jsonl(tmp_path / "rft-train.jsonl", prompts(20)),
        write_jsonl(tmp_path / "rft-valid.jsonl", prompts(10, seed=50)),
    )


def test_rft_job_on_azure_v1(azure: Any, emulator: Emulator, data: tuple[Path, Path]) -> None:
    client = azure()
    assert "reinforcement" in client.capabilities.methods
    train, valid = data
    grader = Multi(name="answer", calculate_output="exact", graders={"exact": EXACT})
    job = client.train(
        base_model=BASE,
        training_data=train,
        validation_data=valid,
        method=RFT(grader=grader, epochs=1, compute_multiplier=0.5),
    )
    job.wait(poll_interval=0.02)
    assert job.status == JobStatus.SUCCEEDED
    assert job.state.method == "reinforcement"
    assert emulator.jobs[-1].method == {"type": "reinforcement", "grader": grader.to_api()}
    assert emulator.jobs[-1].hyperparameters["compute_multiplier"] == 0.5
    rewards = [e.metrics["valid_reward"] for e in job.events() if "valid_reward" in e.metrics]
    assert rewards
    assert rewards[-1] >= rewards[0]
    assert [r for r in emulator.requests if r.status == 400] == []


def test_rft_python_grader_is_refused_before_any_request(
    azure: Any, emulator: Emulator, data: tuple[Path, Path]
) -> None:
    client = azure()
    train, valid = data
    python = Python(name="mine", source="def grade(sample, item):\n    return 1.0\n")
    inside = Multi(name="both", calculate_output="a + b", graders={"a": EXACT, "b": python})
    for grader, field in ((python, "method.grader"), (inside, "method.grader.graders.b")):
        before = len(emulator.requests)
        with pytest.raises(InvalidRequest, match="does not take python graders") as caught:
            client.train(
                base_model=BASE,
                training_data=train,
                validation_data=valid,
                method=RFT(grader=grader),
            )
        assert caught.value.field == field
        assert len(emulator.requests) == before


def test_rft_needs_validation_data_on_azure(
    azure: Any, emulator: Emulator, data: tuple[Path, Path]
) -> None:
    before = len(emulator.requests)
    with pytest.raises(InvalidRequest, match="validation file") as caught:
        azure().train(base_model=BASE, training_data=data[0], method=RFT(grader=EXACT))
    assert caught.value.field == "validation_data"
    assert len(emulator.requests) == before


def test_rft_is_not_on_the_dated_api(azure: Any, data: tuple[Path, Path]) -> None:
    client = azure("2024-10-21")
    assert "reinforcement" not in client.capabilities.methods
    with pytest.raises(UnsupportedOperation, match="reinforcement"):
        client.train(
            base_model=BASE,
            training_data=data[0],
            validation_data=data[1],
            method=RFT(grader=EXACT),
        )
