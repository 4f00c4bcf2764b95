"""The AutoTrain provider over its job folders (fast, no runtime): ids that are no AutoTrain
ids never reach the disk, a damaged folder is listed as damaged and hides no other job."""

from __future__ import annotations

from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import InvalidRequest, JobFailed, NotFound
from ftsdk.jobdir import DamagedJob, JobDir
from ftsdk.jobs import JobStatus


def folder(home: Path, name: str) -> JobDir:
    job = JobDir(home / "autotrain" / "jobs" / name)
    job.path.mkdir(parents=True)
    return job


@pytest.mark.parametrize("job_id", ["", ".", "..", "atjob-" + "a" * 300, "atjob-1/../../x"])
def test_an_id_that_is_no_autotrain_id_is_not_found(tmp_path: Path, job_id: str) -> None:
    client = ftsdk.client("autotrain", home=str(tmp_path))
    with pytest.raises(NotFound, match="no autotrain job"):
        client.job(job_id)
    with pytest.raises(NotFound, match="no autotrain job"):
        client.provider.list_events(job_id, after=None)
    with pytest.raises(NotFound, match="no autotrain job"):
        client.model("atjob-" + job_id).chat("hi")
    with pytest.raises((InvalidRequest, NotFound)):
        client.model(job_id).chat("hi")  # refused before any AutoTrain runtime is built


def test_a_damaged_job_is_listed_as_damaged_beside_the_others(tmp_path: Path) -> None:
    good = folder(tmp_path, "atjob-20260101000000-00000001")
    good.update_status(status="succeeded", created_at="2026-01-01T00:00:00+00:00")
    bad = folder(tmp_path, "atjob-20260102000000-00000002")
    bad.status_file.write_bytes(b'{"status": "running", "raw_status": ["submitted"]}')
    client = ftsdk.client("autotrain", home=str(tmp_path))

    listed = {job.id: job for job in client.jobs()}

    assert listed[good.id].status is JobStatus.SUCCEEDED
    assert (listed[bad.id].status, listed[bad.id].raw_status) == (JobStatus.FAILED, "damaged")
    with pytest.raises(JobFailed, match=f"job {bad.id} is damaged: status"):
        client.job(bad.id).wait(progress=False)
    with pytest.raises(DamagedJob, match=f"job {bad.id} is damaged"):
        client.model(bad.id).chat("hi")


def test_a_job_without_a_model_is_refused_at_once(tmp_path: Path) -> None:
    job = folder(tmp_path, "atjob-20260101000000-00000001")
    job.update_status(status="failed", raw_status="exit_status")
    client = ftsdk.client("autotrain", home=str(tmp_path))
    with pytest.raises(InvalidRequest, match="has no model \\(it is failed\\)"):
        client.model(job.id).chat("hi")
