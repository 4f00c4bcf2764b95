"""Hugging Face Jobs on the Hub emulator, driven by the real ``huggingface_hub`` client: a
job's command is a real process whose output is the log, with the stages, cancel, timeout,
filters and errors the service has."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from ftsdk_emulator.hub import HubEmulator

TOKEN = "hf_jobs_emulated_secret_31"
PRINTS = "import os, time\nfor i in range(3):\n print('line', i, flush=True); time.sleep(0.3)"


@pytest.fixture
def hub() -> Iterator[HubEmulator]:
    with HubEmulator(token=TOKEN, user="alice") as emulated:
        yield emulated


@pytest.fixture
def api(hub: HubEmulator) -> HfApi:
    return HfApi(endpoint=hub.url, token=TOKEN)


def test_hf_jobs_a_job_runs_its_command_with_its_environment_and_secrets(
    hub: HubEmulator, api: HfApi
) -> None:
    code = "import os; print(os.environ['GREETING'], len(os.environ['SECRET']), flush=True)"
    job = api.run_job(
        image="python:3.12",
        command=["python", "-c", code],
        env={"GREETING": "hello"},
        secrets={"SECRET": "shh-value-9"},
    )
    assert job.status.stage == "RUNNING"
    assert job.owner.name == "alice"
    hub.jobs.wait(job.id)
    info = api.inspect_job(job_id=job.id)
    assert info.status.stage == "COMPLETED"
    assert info.started_at is not None
    assert info.finished_at is not None
    assert list(api.fetch_job_logs(job_id=job.id)) == ["hello 11"]
    assert info.secrets == {"SECRET": None}  # the name, never the value
    assert "shh-value-9" not in repr(hub.requests)


def test_hf_jobs_logs_follow_until_the_job_ends(hub: HubEmulator, api: HfApi) -> None:
    job = api.run_job(image="python:3.12", command=[sys.executable, "-c", PRINTS])
    started = time.monotonic()
    assert list(api.fetch_job_logs(job_id=job.id, follow=True)) == [
        "line 0",
        "line 1",
        "line 2",
    ]
    assert time.monotonic() - started >= 0.5  # it streamed while the job ran
    assert api.inspect_job(job_id=job.id).status.stage == "COMPLETED"
    assert list(api.fetch_job_logs(job_id=job.id, follow=True, tail=1)) == ["line 2"]


def test_hf_jobs_cancel_kills_the_process_group(hub: HubEmulator, api: HfApi) -> None:
    job = api.run_job(
        image="python:3.12",
        command=["bash", "-c", "sleep 300 & sleep 300"],
        labels={"team": "a"},
    )
    process = hub.jobs.job(job.id).process
    assert process is not None
    running = list(api.list_jobs(status="RUNNING", labels={"team": "a"}, namespace="alice"))
    assert [j.id for j in running] == [job.id]
    api.cancel_job(job_id=job.id)
    info = api.inspect_job(job_id=job.id)
    assert (info.status.stage, info.status.message) == ("CANCELED", "Job canceled by user")
    assert process.poll() is not None
    assert not list(api.list_jobs(status="RUNNING", namespace="alice"))
    assert list(api.list_jobs(labels={"team": "b"}, namespace="alice")) == []


def test_hf_jobs_a_failing_command_and_a_timeout_are_errors(hub: HubEmulator, api: HfApi) -> None:
    failing = api.run_job(image="python:3.12", command=["python", "-c", "raise SystemExit(3)"])
    slow = api.run_job(image="python:3.12", command=["sleep", "60"], timeout=1)
    assert hub.jobs.wait(failing.id).message == "Job failed with exit code: 3"
    assert hub.jobs.wait(slow.id, timeout=10).message == "Job timed out after 1s"
    assert api.inspect_job(job_id=slow.id).status.stage == "ERROR"


def test_hf_jobs_refuses_without_the_token_and_for_unknown_jobs(
    hub: HubEmulator, api: HfApi
) -> None:
    with pytest.raises(HfHubHTTPError) as caught:
        HfApi(endpoint=hub.url, token="hf_wrong").run_job(
            image="python:3.12", command=["true"], namespace="alice"
        )
    assert caught.value.response is not None
    assert caught.value.response.status_code == 401
    assert not hub.jobs.jobs
    with pytest.raises(HfHubHTTPError, match="404"):
        api.inspect_job(job_id="0" * 24)
    with pytest.raises(HfHubHTTPError, match="404"):
        api.cancel_job(job_id="0" * 24)
    assert [h.name for h in api.list_jobs_hardware()][:2] == ["cpu-basic", "a10g-small"]
