"""Real AutoTrain runs on the CPU, through the runtime venv, on the tiny offline model: the
same JobSpec and data as the TRL tests, watched from a second process; a failing run; cancel.

Needs the AutoTrain runtime (see ``conftest.autotrain_python``): ~20-40 s a job here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.errors import InvalidRequest, JobFailed
from ftsdk.jobs import JobStatus
from ftsdk.testing.local import (
    DPO_DATES,
    cancel_stops_the_runner,
    dates_spec,
    preference_files,
    watch_from_another_process,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # the first one may build the runtime

FAST = {"num_threads": 1}


def test_sft_the_trl_jobspec_is_watched_from_a_second_process_and_chats(
    client: ftsdk.Client,
    tiny_model: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    subprocess_env: dict[str, str],
) -> None:
    train, held_out = dates
    started = time.monotonic()
    job = client.train(dates_spec(tiny_model, train, **FAST, logging_steps=4))
    assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    seen = watch_from_another_process("autotrain", job.id, subprocess_env, timeout=400)
    assert seen["status"] == "succeeded", seen["events"][-5:]
    assert seen["step"] == seen["total"] > 0  # packed blocks of 256 tokens, 6 epochs
    assert any(e.startswith("training: step 0 of") for e in seen["events"])
    assert "AutoTrain: Starting to train..." in seen["events"]
    assert len(seen["losses"]) >= 3
    assert seen["losses"][-1] < 0.7 * seen["losses"][0]
    elapsed = time.monotonic() - started

    job.wait(progress=False)
    assert job.model is not None
    assert Path(job.state.result_model or "").joinpath("model.safetensors").is_file()
    last = job.metrics()[-1].values
    assert {"train_loss", "learning_rate", "grad_norm", "epoch"} <= set(last)
    answer = job.model.chat(held_out[0]["messages"][:-1], max_tokens=12)
    assert answer.usage.completion_tokens > 0
    assert answer.usage.prompt_tokens > 0
    print(f"AutoTrain SFT job: {elapsed:.1f} s, {seen['total']} steps")


def test_dpo_on_the_trl_tests_preference_pairs_with_lora(
    client: ftsdk.Client, tiny_model: Path, tmp_path: Path
) -> None:
    pairs = preference_files(tmp_path)  # the TRL DPO test's pairs
    with pytest.raises(InvalidRequest, match="max_steps"):  # not honoured: refused, not dropped
        client.train(
            base_model=str(tiny_model),
            training_data=pairs,
            method=DPO_DATES.model_copy(update={"max_steps": 6}),
        )
    job = client.train(dates_spec(tiny_model, pairs, DPO_DATES, **FAST, logging_steps=1))
    job.wait(poll_interval=0.5, progress=False)
    assert job.state.step == 4  # 32 pairs / 8
    last = job.metrics()[-1].values
    assert "rewards/accuracies" in last
    assert "train_loss" in last
    result = Path(job.state.result_model or "")
    assert (result / "adapter_config.json").is_file()
    assert job.model is not None
    assert job.model.chat("convert 2024-03-07 to words", max_tokens=6).usage.completion_tokens


def test_a_failing_autotrain_run_ends_failed_with_its_message(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]]
) -> None:
    job = client.train(
        base_model=str(tiny_model),
        training_data=dates[0],
        method=ftsdk.SFT(epochs=1),
        provider_options=FAST | {"extra_params": {"model": "/nonexistent/model"}},
    )
    with pytest.raises(JobFailed) as caught:
        job.wait(poll_interval=0.5, progress=False)
    assert job.status is JobStatus.FAILED
    assert job.raw_status == "autotrain_failed"
    assert job.error is not None
    assert job.error.message.startswith("AutoTrain failed: Incorrect path_or_model_id")
    assert "/nonexistent/model" in str(caught.value)
    assert job.state.result_model is None


def test_cancel_stops_autotrain(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]], home: Path
) -> None:
    job = client.train(
        dates_spec(
            tiny_model, dates[0], ftsdk.SFT(epochs=200, batch_size=4), **FAST, logging_steps=1
        )
    )
    deadline = time.monotonic() + 120
    while not job.metrics():  # AutoTrain itself runs, under the runner
        assert time.monotonic() < deadline, "no metrics within 120 s"
        assert not job.refresh().status.is_terminal, job.error
        time.sleep(0.5)
    cancel_stops_the_runner(job, home / "autotrain" / "jobs")
    assert job.refresh().status is JobStatus.CANCELLED
