"""Local TRL jobs behave like cloud jobs: detached, watched from anywhere, cancelled, paused,
resumed, and killed with ``kill -9`` then resumed from the checkpoint's step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.errors import InvalidDataset, InvalidRequest, JobFailed
from ftsdk.jobs import Job, JobStatus
from ftsdk.testing.data import date_to_words_examples
from ftsdk.testing.local import (
    DPO_DATES,
    cancel_stops_the_runner,
    dates_spec,
    preference_files,
    watch_from_another_process,
)

pytestmark = pytest.mark.slow

FAST = {"num_threads": 1, "logging_steps": 1}
"""Provider options every test job uses: one thread keeps timings steady on a shared CPU."""


def wait_until(
    job: Job, predicate: Callable[[Job], bool], *, timeout: float = 120.0, every: float = 0.05
) -> Job:
    """Refresh ``job`` until ``predicate`` holds (or fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh()
        if predicate(job):
            return job
        if job.status.is_terminal:
            pytest.fail(f"{job} ended before the condition held: {job.error}")
        time.sleep(every)
    pytest.fail(f"{job} did not reach the condition in {timeout}s (status {job.status})")


def exact_match(model: ftsdk.Model, held_out: list[dict[str, Any]]) -> float:
    right = sum(
        model.chat(row["messages"][:-1], max_tokens=12).content == row["messages"][-1]["content"]
        for row in held_out
    )
    return right / len(held_out)


def test_full_sft_learns_and_is_watched_from_a_second_process(
    client: ftsdk.Client,
    tiny_model: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    subprocess_env: dict[str, str],
) -> None:
    train, held_out = dates
    job = client.train(dates_spec(tiny_model, train, **FAST | {"logging_steps": 10}))
    assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    seen = watch_from_another_process("trl", job.id, subprocess_env, timeout=240)
    assert seen["status"] == "succeeded"
    assert seen["step"] == 378  # 1,000 examples / 16 = 63 steps an epoch, 6 epochs
    assert any(e.startswith("training: step 0 of 378") for e in seen["events"])
    assert seen["losses"][-1] < 0.2 * seen["losses"][0]

    job.wait(progress=False)
    assert job.model is not None
    assert Path(job.model.id).is_dir()
    assert job.state.trained_tokens
    metrics = job.metrics()
    assert {"train_loss", "learning_rate", "grad_norm", "tokens_per_second"} <= set(
        metrics[-1].values
    )
    assert [c.step for c in job.checkpoints()]  # kept checkpoints, usable as models
    base = client.model(str(tiny_model))
    assert exact_match(base, held_out[:10]) == 0.0
    assert exact_match(job.model, held_out) >= 0.8  # measured: 0.94-1.0 over seeds


def test_lora_trains_an_adapter_that_chats(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]]
) -> None:
    train, held_out = dates
    job = client.train(
        base_model=str(tiny_model),
        training_data=train,
        method=ftsdk.SFT(adapter="lora", lora_r=8, max_steps=12, batch_size=8, learning_rate=1e-2),
        provider_options=FAST | {"merge": True},
    )
    job.wait(poll_interval=0.5, progress=False)
    result = Path(job.state.result_model or "")
    assert result.name == "merged"
    adapter = result.parent / "model"
    assert (adapter / "adapter_config.json").is_file()
    assert not (adapter / "model.safetensors").exists()
    answer = client.model(str(adapter)).chat(held_out[0]["messages"][:-1], max_tokens=8)
    assert answer.usage.completion_tokens > 0
    assert job.model is not None
    assert job.model.chat(held_out[0]["messages"][:-1], max_tokens=8).model == str(result)


def test_dpo_on_preference_pairs(client: ftsdk.Client, tiny_model: Path, tmp_path: Path) -> None:
    job = client.train(dates_spec(tiny_model, preference_files(tmp_path), DPO_DATES, **FAST))
    job.wait(poll_interval=0.5, progress=False)
    assert job.state.step == 4  # 32 pairs / 8, one epoch
    last = job.metrics()[-1].values
    assert "rewards/accuracies" in last
    assert "train_loss" in last


def test_cancel_stops_the_process(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]], home: Path
) -> None:
    job = client.train(dates_spec(tiny_model, dates[0], ftsdk.SFT(epochs=50, batch_size=4), **FAST))
    wait_until(job, lambda j: (j.state.step or 0) > 2)
    cancel_stops_the_runner(job, home / "trl" / "jobs")
    again = ftsdk.client("trl", home=str(home)).job(job.id)  # as another process sees it
    assert again.status is JobStatus.CANCELLED
    with pytest.raises(JobFailed, match="cancelled"):
        again.wait(progress=False)
    with pytest.raises(InvalidRequest, match="is cancelled; only a paused or failed job resumes"):
        again.resume()  # at once: waiting never makes a cancelled job resumable


def test_pause_then_resume_continues_from_the_checkpoint(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]]
) -> None:
    job = client.train(
        base_model=str(tiny_model),
        training_data=dates[0],
        method=ftsdk.SFT(max_steps=150, batch_size=8, learning_rate=3e-3),
        seed=0,
        provider_options=FAST,
    )
    wait_until(job, lambda j: (j.state.step or 0) >= 5)
    job.pause()
    assert job.status is JobStatus.PAUSED
    paused_at = job.state.step or 0
    assert 5 <= paused_at < 150
    assert paused_at in [c.step for c in job.checkpoints()]
    logged = [m.step for m in job.metrics()]
    job.resume()
    job.wait(poll_interval=0.5, progress=False)
    assert job.state.step == 150
    steps = [m.step for m in job.metrics()]
    assert steps == list(range(1, 151))  # no step run twice, none skipped
    assert logged == list(range(1, paused_at + 1))
    messages = [e.message for e in job.events(all=True)]
    assert f"paused at step {paused_at} (checkpoint saved)" in messages
    assert f"resuming from checkpoint-{paused_at}" in messages
    assert f"training: step {paused_at} of 150" in messages


def test_kill_9_then_resume_matches_an_uninterrupted_run(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]], home: Path
) -> None:
    from ftsdk_trl.jobdir import JobDir

    def start() -> ftsdk.Job:
        return client.train(
            base_model=str(tiny_model),
            training_data=dates[0],
            method=ftsdk.SFT(max_steps=120, batch_size=8, learning_rate=3e-3, warmup_ratio=0.1),
            seed=0,
            provider_options=FAST | {"save_steps": 20},
        )

    def past_a_checkpoint(job: ftsdk.Job) -> bool:  # steps logged after it: run again
        saved = job.checkpoints()
        return bool(saved) and max(m.step for m in job.metrics()) >= saved[-1].step + 3

    whole, killed = start(), start()
    wait_until(killed, past_a_checkpoint, every=0.02)
    proc = JobDir(home / "trl" / "jobs" / killed.id).process()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed.refresh()
    assert killed.status is JobStatus.FAILED
    assert killed.state.error is not None
    assert killed.state.error.code == "process_died"
    checkpoint = killed.checkpoints()[-1].step
    assert checkpoint < 120

    killed.resume()
    killed.wait(poll_interval=0.5, progress=False)
    whole.wait(poll_interval=0.5, progress=False)
    assert killed.state.step == whole.state.step == 120
    events = killed.events(all=True)
    assert f"training: step {checkpoint} of 120" in [e.message for e in events]  # not from 0
    logged = [e.step for e in events if e.type == "metrics"]
    assert logged == list(range(1, 121))  # one event a step, as metrics: no replay twice
    first = {m.step: m.values for m in whole.metrics()}
    second = {m.step: m.values for m in killed.metrics()}
    # the learning rate schedule continues where it was, not restarted
    assert second[checkpoint + 1]["learning_rate"] == pytest.approx(
        first[checkpoint + 1]["learning_rate"]
    )
    final_whole, final_killed = first[120]["train_loss"], second[120]["train_loss"]
    assert final_killed == pytest.approx(final_whole, rel=0.05)
    print(f"final loss uninterrupted {final_whole:.5f}, killed+resumed {final_killed:.5f}")


def test_a_bad_dataset_fails_before_any_process_starts(
    client: ftsdk.Client, tiny_model: Path, tmp_path: Path, home: Path
) -> None:
    rows = [json.dumps(r) for r in date_to_words_examples(3)]
    rows.insert(2, json.dumps({"messages": [{"role": "user", "content": ""}]}))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InvalidDataset, match=r"bad\.jsonl:3: messages"):
        client.train(base_model=str(tiny_model), training_data=bad)
    assert not (home / "trl" / "jobs").exists()


def test_dpo_needs_preference_pairs(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]]
) -> None:
    with pytest.raises(InvalidDataset, match=r"format_not_accepted|does not train on chat"):
        client.train(base_model=str(tiny_model), training_data=dates[0], method=ftsdk.DPO())


def test_qlora_on_cpu_is_refused_before_starting(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]]
) -> None:
    with pytest.raises(InvalidRequest, match="qlora"):
        client.train(
            base_model=str(tiny_model),
            training_data=dates[0],
            method=ftsdk.SFT(adapter="qlora"),
        )


def test_a_model_without_chat_template_is_refused_for_chat_data(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(tiny_model, bare)
    (bare / "chat_template.jinja").unlink()
    config = json.loads((bare / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidRequest, match="no chat template"):
        client.train(base_model=str(bare), training_data=dates[0])


def test_unknown_base_model_is_never_downloaded(
    client: ftsdk.Client, dates: tuple[Path, list[dict[str, Any]]]
) -> None:
    with pytest.raises(InvalidRequest, match="not in the local Hugging Face cache"):
        client.train(base_model="surely-not/a-cached-model-xyz", training_data=dates[0])


def test_multi_gpu_launch_is_accelerate_launch(tmp_path: Path) -> None:
    """A dry run: the launcher's command, and the arguments it hands ``accelerate launch``
    parse as accelerate's own CLI would parse them."""
    from accelerate.commands.launch import launch_command_parser

    from ftsdk_trl.engines.ranks import accelerate_arguments
    from ftsdk_trl.provider import launch_command

    command = launch_command(tmp_path, resume=True, num_processes=4)
    assert command == [
        sys.executable,
        "-m",
        "ftsdk_trl.engines.ranks",
        str(tmp_path),
        "--num-processes",
        "4",
        "--resume",
    ]
    given = accelerate_arguments(tmp_path, resume=True, num_processes=4, log_dir=tmp_path / "l")
    args = launch_command_parser().parse_args(given)
    assert args.num_processes == 4
    assert args.multi_gpu
    assert args.main_process_port == 0  # a free port: two jobs side by side
    assert args.module
    assert args.training_script == "ftsdk_trl.runner"
    assert args.training_script_args == [str(tmp_path), "--resume"]
    assert launch_command(tmp_path, resume=False, num_processes=1) == [
        sys.executable,
        "-m",
        "ftsdk_trl.runner",
        str(tmp_path),
    ]


def test_runner_entry_point_reports_a_crash(tmp_path: Path) -> None:
    """A runner that fails writes failed with the exception, not a silent death."""
    from ftsdk_trl.jobdir import JobDir, write_json_atomic

    job = JobDir(tmp_path / "trljob-crash")
    job.path.mkdir()
    write_json_atomic(job.spec_file, {"model_path": str(tmp_path / "missing"), "method": {}})
    job.update_status(status="queued")
    result = subprocess.run(
        [sys.executable, "-m", "ftsdk_trl.runner", str(job.path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)),
    )
    assert result.returncode == 1
    status = job.read_status()
    assert status["status"] == "failed"
    assert "KeyError" in status["error"]["message"]


def test_learning_rate_and_its_multiplier_together_are_refused(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]]
) -> None:
    with pytest.raises(InvalidRequest, match=r"method: give learning_rate .* not both"):
        client.train(
            base_model=str(tiny_model),
            training_data=dates[0],
            method=ftsdk.SFT(learning_rate=1e-3, learning_rate_multiplier=2),
        )
    assert client.jobs() == []


def test_the_runner_gets_no_credentials(
    client: ftsdk.Client,
    tiny_model: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ftsdk_trl.jobdir import JobDir

    secrets = {
        "OPENAI_API_KEY": "sk-test-openai",
        "AZURE_OPENAI_API_KEY": "test-azure-key",
        "AZURE_CLIENT_SECRET": "test-entra-secret",
        "AWS_SECRET_ACCESS_KEY": "test-aws",
        "GITHUB_TOKEN": "ghp_test",
        "WANDB_API_KEY": "test-wandb",
        "HF_TOKEN": "hf_test",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    job = client.train(
        base_model=str(tiny_model),
        training_data=dates[0],
        method=ftsdk.SFT(max_steps=500, batch_size=4),
        provider_options=FAST,
    )
    runner = JobDir(home / "trl" / "jobs" / job.id).process()
    env = runner.environ()
    job.cancel()
    assert sorted(set(secrets) & set(env)) == []
    assert not any(value in env.values() for value in secrets.values())
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["PATH"] == os.environ["PATH"]  # the rest of the environment is kept
