"""Pausing and resuming a TRL job while ten other processes watch it: no watcher ever sees
it fail, every one sees it succeed.

The provider, its job folder and the watchers are the real ones; the runner is a stand-in
that keeps the job folder's protocol (running, a step at a time, ``paused`` when asked,
``succeeded``) without loading torch, so twenty cycles take seconds, not minutes. Real
training pauses and resumes in test_jobs.py.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import ftsdk
from ftsdk.jobdir import now_iso, write_json_atomic
from ftsdk.jobs import JobStatus
from ftsdk.testing.local import child_env
from ftsdk_trl import provider as trl_provider

CYCLES = 20
WATCHERS = 10
STEPS = CYCLES + 10

RUNNER = """
import sys, time
from pathlib import Path
from ftsdk.jobdir import JobDir, now_iso
job = JobDir(Path(sys.argv[1]))
status = job.read_status()
step, total = int(status.get("step") or 0), int(status["total_steps"])
job.update_status(status="running", raw_status="training")
while step < total:
    time.sleep(0.01)
    step += 1
    job.add_metrics(step, {"train_loss": 1.0 / step})
    if job.requested() == "pause":
        job.clear_request()
        job.update_status(status="paused", raw_status="paused", step=step)
        sys.exit(0)
    job.update_status(step=step)
job.update_status(status="succeeded", raw_status="succeeded", step=step,
                  finished_at=now_iso(), result_model=str(job.model_dir))
"""

WATCHER = """
import json, sys, time, ftsdk
job = ftsdk.client("trl").job(sys.argv[1])
print("watching", flush=True)
seen = []
while not job.status.is_terminal:
    time.sleep(0.01)
    job.refresh()
    if not seen or seen[-1] != job.status.value:
        seen.append(job.status.value)
print(json.dumps(seen))
"""


def test_race_pause_resume_cycles_never_look_failed_to_watchers(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stand_in(job_path: Path, *, resume: bool, num_processes: int | None) -> list[str]:
        return [sys.executable, "-c", RUNNER, str(job_path)]

    monkeypatch.setattr(trl_provider, "launch_command", stand_in)
    client = ftsdk.client("trl", home=str(home), pause_timeout=30.0)
    folder = client.provider.store.create()
    write_json_atomic(
        folder.spec_file,
        {
            "model_path": "/m",
            "train_file": "/t",
            "method": {"type": "sft"},
            "options": {"num_processes": None},
        },
    )
    folder.update_status(
        status="paused", raw_status="paused", created_at=now_iso(), step=0, total_steps=STEPS
    )
    watchers = [
        subprocess.Popen(
            [sys.executable, "-c", WATCHER, folder.id],
            env=child_env(home),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(WATCHERS)
    ]
    try:
        for watcher in watchers:  # every one watching before the first resume
            assert watcher.stdout is not None
            assert watcher.stdout.readline().strip() == "watching"
        job = client.job(folder.id)
        for cycle in range(CYCLES):
            job.resume()
            assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING), job.error
            job.pause()
            assert job.status is JobStatus.PAUSED, (cycle, job.error)
        job.resume()
        job.wait(poll_interval=0.05, max_poll_interval=0.1, progress=False)
        seen = [json.loads(w.communicate(timeout=60)[0].splitlines()[-1]) for w in watchers]
    finally:
        for watcher in watchers:
            watcher.kill()

    assert job.status is JobStatus.SUCCEEDED
    assert [m.step for m in job.metrics()] == list(range(1, STEPS + 1))
    assert [statuses[-1] for statuses in seen] == ["succeeded"] * WATCHERS
    assert not any("failed" in statuses for statuses in seen), seen
    assert all("paused" in statuses for statuses in seen)  # they watched the cycles


def test_race_cancel_and_resume_at_once_leave_no_runner_behind(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stand_in(job_path: Path, *, resume: bool, num_processes: int | None) -> list[str]:
        return [sys.executable, "-c", RUNNER, str(job_path)]

    monkeypatch.setattr(trl_provider, "launch_command", stand_in)
    client = ftsdk.client("trl", home=str(home))
    for _ in range(10):
        folder = client.provider.store.create()
        write_json_atomic(
            folder.spec_file,
            {"model_path": "/m", "train_file": "/t", "method": {}, "options": {}},
        )
        folder.update_status(status="paused", raw_status="paused", step=0, total_steps=10**6)
        resumer = threading.Thread(
            target=lambda job_id=folder.id: only_ftsdk_errors(
                lambda: ftsdk.client("trl", home=str(home)).job(job_id).resume()
            )
        )
        resumer.start()
        client.job(folder.id).cancel()
        resumer.join()
        client.provider.store.reap(folder, timeout=5)
        assert folder.read_status()["status"] == "cancelled"
        assert folder.process() is None  # no runner left training a cancelled job


def only_ftsdk_errors(call: Callable[[], object]) -> None:
    with contextlib.suppress(ftsdk.errors.FtsdkError):
        call()
