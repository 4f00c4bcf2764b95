"""The job folder shared by local providers (ftsdk.jobdir): process identity, a real detached
runner, dead-runner detection, events by id, metrics after a resume, checkpoints."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil

from ftsdk.jobdir import JobDir, newest_first, stop_process, write_json_atomic
from ftsdk.jobs import JobStatus


def folder(tmp_path: Path, name: str = "localjob-1") -> JobDir:
    job = JobDir(tmp_path / "jobs" / name)
    job.path.mkdir(parents=True)
    return job


def test_a_reused_pid_is_not_the_job(tmp_path: Path) -> None:
    job = folder(tmp_path)
    started = psutil.Process(os.getpid()).create_time()
    write_json_atomic(job.process_file, {"pid": os.getpid(), "create_time": started})
    assert job.process() is not None
    write_json_atomic(job.process_file, {"pid": os.getpid(), "create_time": started - 60})
    assert job.process() is None  # same pid, another process


def test_a_runner_that_dies_leaves_a_failed_job_with_its_log(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.update_status(status="running", raw_status="training", created_at="2026-01-01T00:00:00Z")
    script = "import sys; print('RuntimeError: CUDA out of memory', flush=True); sys.exit(3)"
    child = job.start_runner([sys.executable, "-c", script], dict(os.environ))
    child.wait(timeout=30)

    status = job.check_runner(job.read_status(), "the training process")
    state = job.job_state("trl", status)

    assert state.status is JobStatus.FAILED
    assert state.raw_status == "process_died"
    assert state.error is not None
    assert "the training process ended without finishing" in state.error.message
    assert "CUDA out of memory" in state.error.message  # the end of the log
    assert job.read_status()["status"] == "failed"  # written back: every reader agrees
    assert job.job_events()[-1].level == "error"


def test_a_live_runner_keeps_its_job_running_until_stopped(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.update_status(status="running")
    script = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "time.sleep(60)\n"
    )
    child = job.start_runner([sys.executable, "-c", script], dict(os.environ))
    time.sleep(0.5)
    runner = job.process()
    assert runner is not None
    assert job.check_runner(job.read_status(), "the runner")["status"] == "running"
    grandchildren = runner.children(recursive=True)

    stop_process(runner, grace=2)

    child.wait(timeout=10)
    assert job.process() is None
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in grandchildren)


def test_a_job_being_started_is_not_dead(tmp_path: Path) -> None:
    job = folder(tmp_path)
    status = job.update_status(status="queued")  # no process.json yet
    assert job.check_runner(status, "the runner")["status"] == "queued"


def test_events_are_incremental_by_id(tmp_path: Path) -> None:
    job = folder(tmp_path)
    for n in range(3):
        job.add_event(f"event {n}")
    job.add_event("step 2", step=2, metrics={"train_loss": 1.5})
    first = job.job_events()
    assert [e.message for e in first] == ["event 0", "event 1", "event 2", "step 2"]
    last = first[-1]
    assert (last.type, last.step, last.metrics) == ("metrics", 2, {"train_loss": 1.5})
    job.add_event("event 4")
    assert [e.message for e in job.job_events(after=first[-1].id)] == ["event 4"]


def test_metrics_of_a_step_written_twice_are_merged_the_later_winning(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.add_metrics(1, {"train_loss": 3.0})
    job.add_metrics(2, {"train_loss": 2.0})
    job.add_metrics(2, {"valid_loss": 2.5})  # the evaluation at the same step
    job.add_metrics(2, {"train_loss": 1.9})  # after a resume from step 1
    assert [(m.step, m.values) for m in job.job_metrics()] == [
        (1, {"train_loss": 3.0}),
        (2, {"train_loss": 1.9, "valid_loss": 2.5}),
    ]


def test_an_incomplete_checkpoint_is_not_resumed_from(tmp_path: Path) -> None:
    job = folder(tmp_path)
    (job.checkpoints_dir / "checkpoint-10").mkdir(parents=True)
    (job.checkpoints_dir / "checkpoint-10" / "trainer_state.json").write_text("{}")
    (job.checkpoints_dir / "checkpoint-20").mkdir()  # killed while saving
    assert job.last_checkpoint() == job.checkpoints_dir / "checkpoint-10"


def test_jobs_list_newest_first(tmp_path: Path) -> None:
    states = []
    for n, created in enumerate(["2026-01-02T00:00:00+00:00", None, "2026-01-03T00:00:00+00:00"]):
        job = folder(tmp_path, f"job-{n}")
        status = job.update_status(status="succeeded", created_at=created)
        states.append(job.job_state("trl", status))
    assert [s.id for s in newest_first(states, limit=2)] == ["job-2", "job-0"]
