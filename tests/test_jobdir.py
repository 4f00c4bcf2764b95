"""The job folder shared by local providers (ftsdk.jobdir): process identity, a real detached
runner, dead-runner detection, events by id, metrics after a resume, checkpoints, the lock,
damaged files, the runner's environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ftsdk.errors import ConfigurationError
from ftsdk.jobdir import (
    DamagedJob,
    JobDir,
    JobStore,
    newest_first,
    read_jsonl,
    runner_env,
    stop_process,
    write_json_atomic,
)
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


def test_the_lock_nests_in_a_thread_and_excludes_other_processes(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.update_status(status="queued")
    script = (
        "import sys, time; from pathlib import Path; from ftsdk.jobdir import JobDir\n"
        "t = time.monotonic(); JobDir(Path(sys.argv[1])).update_status(step=1)\n"
        "print(time.monotonic() - t)\n"
    )
    with job.locked(), job.locked():  # nests: update_status inside takes it again
        job.update_status(step=0)
        other = subprocess.Popen(
            [sys.executable, "-c", script, str(job.path)], stdout=subprocess.PIPE, text=True
        )
        with pytest.raises(subprocess.TimeoutExpired):
            other.wait(timeout=2)  # the other process waits for the lock
        assert job.read_status()["step"] == 0
    assert other.wait(timeout=30) == 0
    assert job.read_status()["step"] == 1


def test_a_damaged_status_is_a_damaged_job_not_running_forever(tmp_path: Path) -> None:
    job = folder(tmp_path)
    write_json_atomic(job.status_file, {"status": "exploded"})
    state = job.job_state("trl", {"status": "exploded"})
    assert (state.status, state.raw_status) == (JobStatus.FAILED, "damaged")
    assert state.error is not None
    assert "status.json says status 'exploded', none of cancelled, failed" in state.error.message
    with pytest.raises(DamagedJob, match="says status 'exploded'"):
        job.update_status(step=3)  # a writer never builds on a damaged status
    with pytest.raises(DamagedJob, match=r"spec\.json is missing"):
        job.read_spec()


def test_jsonl_lines_that_are_no_json_object_keep_their_place(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n\xff\xfe\n[1]\n{"b": 2\n{"c": 3}\n{"partial"')
    assert read_jsonl(path) == [{"a": 1}, {}, {}, {}, {"c": 3}]


def test_a_runner_env_keeps_no_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "PATH": "/bin",
        "HOME": "/root",
        "CUDA_VISIBLE_DEVICES": "0",
        "TOKENIZERS_PARALLELISM": "false",
        "OPENAI_API_KEY": "sk-1",
        "OPENAI_BASE_URL": "http://127.0.0.1:1",
        "AZURE_OPENAI_API_KEY": "k",
        "AZURE_CLIENT_SECRET": "s",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_SESSION_TOKEN": "t",
        "HF_TOKEN": "hf_1",
        "GH_TOKEN": "t",
        "DB_PASSWORD": "p",
        "GOOGLE_APPLICATION_CREDENTIALS": "/k.json",
        "SSH_AUTH_SOCK": "/tmp/agent",
        "my_api_key": "lower case too",
    }
    kept = runner_env(env, PYTHONUNBUFFERED="1")
    assert sorted(kept) == [
        "CUDA_VISIBLE_DEVICES",
        "HOME",
        "PATH",
        "PYTHONUNBUFFERED",
        "TOKENIZERS_PARALLELISM",
    ]


def test_a_home_that_is_a_file_is_a_configuration_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("a file")
    store = JobStore(home, "trl", prefix="trljob")
    with pytest.raises(ConfigurationError, match=f"{home}.*FTSDK_HOME"):
        store.create()
    assert store.folders() == []
