"""The job folder alone: process identity, dead-process detection, metrics after a resume."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

import ftsdk
from ftsdk.jobs import JobStatus
from ftsdk_trl.jobdir import JobDir, write_json_atomic


def folder(home: Path, name: str = "trljob-20260101000000-abcdef01") -> JobDir:
    job = JobDir(home / "trl" / "jobs" / name)
    job.path.mkdir(parents=True)
    return job


def test_a_reused_pid_is_not_the_job(tmp_path: Path) -> None:
    job = folder(tmp_path)
    started = psutil.Process(os.getpid()).create_time()
    write_json_atomic(job.process_file, {"pid": os.getpid(), "create_time": started})
    assert job.process() is not None
    write_json_atomic(job.process_file, {"pid": os.getpid(), "create_time": started - 60})
    assert job.process() is None  # same pid, another process


def test_a_dead_runner_is_reported_failed_with_its_log(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.update_status(status="running", raw_status="training", created_at="2026-01-01T00:00:00Z")
    write_json_atomic(job.process_file, {"pid": 2**22 + 12345, "create_time": 1.0})
    job.log_file.write_text("Traceback ...\nRuntimeError: CUDA out of memory\n")
    state = ftsdk.client("trl", home=str(tmp_path)).job(job.id).state
    assert state.status is JobStatus.FAILED
    assert state.raw_status == "process_died"
    assert state.error is not None
    assert "CUDA out of memory" in state.error.message
    assert job.read_status()["status"] == "failed"  # written back: every reader agrees


def test_metrics_keep_the_last_row_of_a_step_run_twice(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.add_metrics(1, {"train_loss": 3.0})
    job.add_metrics(2, {"train_loss": 2.0})
    job.add_metrics(2, {"train_loss": 1.9})  # after a resume from step 1
    assert [(m["step"], m["values"]["train_loss"]) for m in job.metrics()] == [
        (1, 3.0),
        (2, 1.9),
    ]


def test_an_incomplete_checkpoint_is_not_resumed_from(tmp_path: Path) -> None:
    job = folder(tmp_path)
    (job.checkpoints_dir / "checkpoint-10").mkdir(parents=True)
    (job.checkpoints_dir / "checkpoint-10" / "trainer_state.json").write_text("{}")
    (job.checkpoints_dir / "checkpoint-20").mkdir()  # killed while saving
    assert job.last_checkpoint() == job.checkpoints_dir / "checkpoint-10"


def test_events_are_incremental_by_id(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.update_status(status="succeeded")
    for n in range(3):
        job.add_event(f"event {n}")
    provider = ftsdk.client("trl", home=str(tmp_path)).provider
    first = provider.list_events(job.id, after=None)
    assert [e.message for e in first] == ["event 0", "event 1", "event 2"]
    job.add_event("event 3")
    assert [e.message for e in provider.list_events(job.id, after=first[-1].id)] == ["event 3"]
