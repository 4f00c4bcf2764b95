"""Reinforcement jobs on the emulator through the real ``openai`` client: the grader is
kept and shown as the service shows it, rewards come in metrics events, and what each
service refuses (another method on an RFT model, a python grader on Azure) is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from ftsdk.graders import Python, StringCheck
from ftsdk.testing.data import write_jsonl
from ftsdk_emulator import Emulator

BASE = "o4-mini-2025-04-16"
EXACT = StringCheck(
    name="exact", input="{{sample.output_text}}", reference="{{item.answer}}", operation="eq"
)
EXPIRY: Any = {"anchor": "created_at", "seconds": 3600}


def prompts_file(folder: Path, n: int = 12) -> Path:
    rows = [
        {"messages": [{"role": "user", "content": f"{i} + {i}?"}], "answer": str(2 * i)}
        for i in range(n)
    ]
    return write_jsonl(folder / "prompts.jsonl", rows)


def upload(client: openai.OpenAI, path: Path, **extra: Any) -> str:
    with path.open("rb") as stream:
        return client.files.create(file=stream, purpose="fine-tune", **extra).id


def test_rft_job_keeps_its_grader_and_reports_rewards(
    emulator: Emulator, openai_client: openai.OpenAI, tmp_path: Path
) -> None:
    path = prompts_file(tmp_path)
    train, valid = upload(openai_client, path), upload(openai_client, path)
    job = openai_client.fine_tuning.jobs.create(
        model=BASE,
        training_file=train,
        validation_file=valid,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": EXACT.to_api(),
                "hyperparameters": {"n_epochs": 1, "eval_interval": 2},
            },
        },
    )
    assert job.method is not None
    assert job.method.type == "reinforcement"
    assert job.method.reinforcement is not None
    assert job.method.reinforcement.grader.model_dump(exclude_none=True) == EXACT.to_api()
    emulator.advance(3600)
    done = openai_client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded"
    events = openai_client.fine_tuning.jobs.list_events(job.id, limit=100).data
    metrics = [e.data for e in events if e.type == "metrics"]
    assert metrics
    assert all(isinstance(m, dict) and "train_reward_mean" in m for m in metrics)
    evaluated = [m["step"] for m in metrics if isinstance(m, dict) and "valid_reward_mean" in m]
    assert evaluated
    assert all(step % 2 == 0 or step == len(metrics) for step in evaluated)


def test_rft_model_trains_with_reinforcement_only(
    openai_client: openai.OpenAI, tmp_path: Path
) -> None:
    train = upload(openai_client, prompts_file(tmp_path))
    with pytest.raises(openai.BadRequestError, match="does not support supervised"):
        openai_client.fine_tuning.jobs.create(model=BASE, training_file=train)


def test_azure_v1_refuses_a_python_grader(emulator: Emulator, tmp_path: Path) -> None:
    v1 = openai.OpenAI(base_url=emulator.azure_v1_base_url, api_key=emulator.api_key, max_retries=0)
    train = upload(v1, prompts_file(tmp_path), expires_after=EXPIRY)
    python = Python(name="mine", source="def grade(sample, item):\n    return 1.0\n")
    with pytest.raises(openai.BadRequestError, match="does not take python graders") as caught:
        v1.fine_tuning.jobs.create(
            model=BASE,
            training_file=train,
            validation_file=train,
            method={"type": "reinforcement", "reinforcement": {"grader": python.to_api()}},
        )
    assert caught.value.param == "method.reinforcement.grader"
    assert emulator.jobs == []
