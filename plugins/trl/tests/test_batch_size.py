"""``batch_size`` is examples per optimizer step on TRL, as on OpenAI (issue 18.13, issue 19):
the same steps whatever the accumulation or the process count, and a batch that does not
split evenly is refused before anything starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.errors import InvalidRequest
from ftsdk.jobdir import visible_gpus
from ftsdk.testing.local import assert_uneven_batch_refused

FAST = {"num_threads": 1, "logging_steps": 10}


def train_one_epoch(
    client: ftsdk.Client, model: Path, data: Path, options: dict[str, Any], **method: Any
) -> ftsdk.Job:
    job = client.train(
        base_model=str(model),
        training_data=data,
        method=ftsdk.SFT(epochs=1, batch_size=16, learning_rate=3e-3, **method),
        provider_options=FAST | options,
    )
    return job.wait(poll_interval=0.5, progress=False)


def recorded_batch(home: Path, job: ftsdk.Job) -> dict[str, Any]:
    spec = json.loads((home / "trl" / "jobs" / job.id / "spec.json").read_text(encoding="utf-8"))
    batch: dict[str, Any] = spec["batch"]
    return batch


def batch_events(job: ftsdk.Job) -> list[str]:
    return [e.message for e in job.events() if e.message.startswith("batch:")]


@pytest.mark.slow
@pytest.mark.parametrize("accumulation", [None, 2])
def test_1000_examples_at_16_take_63_steps_whatever_the_accumulation(
    client: ftsdk.Client,
    tiny_model: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    home: Path,
    accumulation: int | None,
) -> None:
    job = train_one_epoch(
        client, tiny_model, dates[0], {}, gradient_accumulation_steps=accumulation
    )
    assert (job.state.step, job.state.total_steps) == (63, 63)  # ceil(1,000 / 16)
    per_device = 16 // (accumulation or 1)
    assert recorded_batch(home, job) == {
        "batch_size": 16,
        "per_device_batch_size": per_device,
        "gradient_accumulation_steps": accumulation or 1,
        "num_processes": 1,
    }
    assert batch_events(job) == [
        f"batch: 16 examples per optimizer step = {per_device} per device x "
        f"{accumulation or 1} accumulation x 1 process"
    ]


@pytest.mark.slow
@pytest.mark.skipif(visible_gpus() == 1, reason="two ranks need two GPUs, or none (gloo on CPU)")
def test_two_processes_take_the_same_steps_as_one(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]], home: Path
) -> None:
    """Two CPU ranks under ``accelerate launch`` (gloo): each takes 8 of the 16."""
    job = train_one_epoch(client, tiny_model, dates[0], {"num_processes": 2})
    assert job.status is ftsdk.JobStatus.SUCCEEDED
    assert (job.state.step, job.state.total_steps) == (63, 63)
    assert recorded_batch(home, job)["per_device_batch_size"] == 8
    # read back from the trainer's own arguments in the runner: two ranks really ran
    assert batch_events(job) == [
        "batch: 16 examples per optimizer step = 8 per device x 1 accumulation x 2 processes"
    ]


def test_a_batch_that_does_not_split_is_refused_before_the_job_starts(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]], home: Path
) -> None:
    spec = ftsdk.JobSpec(
        base_model=str(tiny_model),
        training_data=dates[0],
        method=ftsdk.SFT(batch_size=15),
        provider_options={"num_processes": 2},
    )
    assert_uneven_batch_refused((client.check, client.train), spec)
    with pytest.raises(InvalidRequest, match=r"2 processes x 4 gradient_accumulation_steps"):
        client.check(
            spec.model_copy(
                update={"method": ftsdk.SFT(batch_size=12, gradient_accumulation_steps=4)}
            )
        )
    assert not list((home / "trl" / "jobs").glob("trljob-*"))


@pytest.mark.parametrize(
    ("method", "processes", "cap", "plan"),
    [
        ({"batch_size": 16}, 1, None, (16, 16, 1, 1)),
        ({"batch_size": 16}, 2, None, (16, 8, 1, 2)),
        ({"batch_size": 16, "gradient_accumulation_steps": 2}, 2, None, (16, 4, 2, 2)),
        ({"batch_size": 64}, 2, 8, (64, 8, 4, 2)),
        ({"batch_size": 24}, 1, 5, (24, 4, 6, 1)),  # the largest divisor under the cap
        ({}, 3, None, (9, 3, 1, 3)),  # the default 8, rounded up to split evenly
    ],
)
def test_the_split_always_multiplies_back_to_batch_size(
    method: dict[str, Any], processes: int, cap: int | None, plan: tuple[int, ...]
) -> None:
    from ftsdk_trl.training import BatchPlan, batch_plan

    got = batch_plan(method, num_processes=processes, max_per_device=cap)
    assert got == BatchPlan(*plan)
    assert got.per_device_batch_size * got.gradient_accumulation_steps * processes == got.batch_size


def test_an_accumulation_above_the_cap_is_refused() -> None:
    from ftsdk_trl.training import batch_plan

    with pytest.raises(InvalidRequest) as caught:
        batch_plan({"batch_size": 32, "gradient_accumulation_steps": 2}, max_per_device=8)
    assert caught.value.field == "method.gradient_accumulation_steps"
