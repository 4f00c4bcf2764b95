"""The TRL provider over its job folders (the folder itself is tested in the core's
tests/test_jobdir.py): a dead runner seen by any client, events by id."""

from __future__ import annotations

from pathlib import Path

import ftsdk
from ftsdk.jobdir import JobDir, write_json_atomic
from ftsdk.jobs import JobStatus


def folder(home: Path, name: str = "trljob-20260101000000-abcdef01") -> JobDir:
    job = JobDir(home / "trl" / "jobs" / name)
    job.path.mkdir(parents=True)
    return job


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
