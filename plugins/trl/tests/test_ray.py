"""TRL jobs on a Ray cluster: a real Ray head started here on 127.0.0.1 with 2 CPUs, jobs
submitted through the Ray Jobs API and trained by Ray Train workers (2, over gloo), watched,
cancelled and chatted with through the same ``Job`` handle as a local job.

The head listens on loopback only where Ray lets it: its dashboard (the Jobs API) on
127.0.0.1, but Ray registers the node under the machine's address and its GCS and raylet
listen on every interface (``--node-ip-address 127.0.0.1`` is ignored: see
../shared/notes/scale-engines-offline.md). The head is the ``ray_head`` fixture of
conftest.py (:func:`ftsdk_trl.engines.ray_local.local_ray_head`): one per module, its
processes killed by PID at the end (never ``ray stop``, which kills other users' Ray).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.errors import ConfigurationError, InvalidRequest, JobFailed, ProviderUnavailable
from ftsdk.jobdir import JobDir
from ftsdk.jobs import Job, JobStatus
from ftsdk.provider import TrainingRequest
from ftsdk.testing.local import child_env, dates_spec, watch_from_another_process
from ftsdk_trl.engines.ray_local import LocalRayHead
from ftsdk_trl.provider import TRLOptions, TRLProvider

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_client_address(ray_head_cluster: LocalRayHead) -> str:
    """The head's Ray Client address (``ray://127.0.0.1:<port>``)."""
    return ray_head_cluster.client_address


def _ray_jobs(address: str) -> Any:
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(address)


def _trl(client: ftsdk.Client) -> TRLProvider:
    assert isinstance(client.provider, TRLProvider)
    return client.provider


def _ray_status(ray_jobs: Any, submission: str, timeout: float = 30.0) -> str:
    """The Ray job's status once it ended (or as it is after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        status = str(ray_jobs.get_job_status(submission).value)
        if status in ("STOPPED", "SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def _options(address: str, **more: Any) -> dict[str, Any]:
    return {
        "engine": "ray",
        "num_processes": 2,
        "num_threads": 1,
        "logging_steps": 1,
        "ray": {"address": address},
    } | more


def _wait_until_step(job: Job, step: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while (job.refresh().state.step or 0) < step:
        if job.status.is_terminal or time.monotonic() > deadline:
            pytest.fail(f"{job} did not reach step {step}: {job.status} {job.error}")
        time.sleep(0.2)


def test_ray_job_is_watched_to_completion_and_its_model_chats(
    ray_head: str,
    client: ftsdk.Client,
    tiny_model: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_never_sent_to_ray")
    train, held_out = dates
    spec = dates_spec(tiny_model, train, ftsdk.SFT(max_steps=10, batch_size=8, learning_rate=3e-3))
    request = TrainingRequest(
        spec=spec,
        training_file=client.upload(train),
        options=TRLOptions.model_validate(_options(ray_head)),
        idempotency_key="ftsdk-ray-once",
    )
    first = client.provider.create_job(request)
    assert client.provider.create_job(request).id == first.id  # a retried create
    provider = _trl(client)
    folder = JobDir(provider.jobs_dir / first.id)
    command, env = provider.runner(folder, resume=False)
    provider.launch_runner(folder, command, env, resume=False)  # a retried submit
    ray_jobs = _ray_jobs(ray_head)
    ours = [j for j in ray_jobs.list_jobs() if j.submission_id == "ftsdk-ray-once"]
    assert len(ours) == 1, ours
    assert ours[0].metadata == {"ftsdk_job_id": first.id}
    elsewhere = ftsdk.client("trl", home=str(provider.home.parent / "else"))  # another machine
    with pytest.raises(InvalidRequest, match="already has a job 'ftsdk-ray-once', made for"):
        elsewhere.provider.create_job(request)
    assert elsewhere.jobs() == []  # refused: nothing left behind

    watcher = child_env(provider.home)
    watcher.pop("RAY_ADDRESS", None)  # the job folder says where its Ray job is
    seen = watch_from_another_process("trl", first.id, watcher, timeout=300)
    assert seen["status"] == "succeeded", seen
    assert seen["step"] == seen["total"] == 10
    assert any(e.startswith("submitted to the Ray cluster at") for e in seen["events"])
    assert any(e.endswith("x 2 processes") for e in seen["events"]), seen["events"]
    assert seen["losses"][-1] < seen["losses"][0]

    # the folder says succeeded once rank 0 saved the model; the driver ends just after
    assert _ray_status(ray_jobs, "ftsdk-ray-once") == "SUCCEEDED"
    logs = ray_jobs.get_job_logs("ftsdk-ray-once")
    assert "2 worker(s)" in logs
    sent = json.dumps(ray_jobs.get_job_info("ftsdk-ray-once").runtime_env)
    assert "FTSDK_HOME" in sent
    assert "hf_never_sent_to_ray" not in sent + logs
    job = client.job(first.id)
    assert job.status is JobStatus.SUCCEEDED
    saved = (folder.log_file).read_text(encoding="utf-8")  # as a local job's output
    assert saved.count("Ray job ftsdk-ray-once\n") == 1
    assert "2 worker(s)" in saved
    assert job.model is not None
    answer = job.model.chat(held_out[0]["messages"][:-1], max_tokens=8)
    assert answer.usage.completion_tokens > 0
    assert answer.model == job.state.result_model
    assert Path(job.state.result_model or "").parent == _trl(client).jobs_dir / job.id


def test_ray_cancel_stops_the_ray_job_and_its_workers(
    ray_head: str, client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, Any], home: Path
) -> None:
    job = client.train(
        dates_spec(tiny_model, dates[0], ftsdk.SFT(epochs=50, batch_size=4), **_options(ray_head))
    )
    _wait_until_step(job, 2)
    job.cancel()
    assert job.status is JobStatus.CANCELLED
    ray_jobs = _ray_jobs(ray_head)
    (submission,) = _submissions(ray_jobs, job.id)
    assert _ray_status(ray_jobs, submission) == "STOPPED"
    _assert_no_train_worker_alive(ray_head)
    again = ftsdk.client("trl", home=str(home)).job(job.id)  # as another process sees it
    assert again.status is JobStatus.CANCELLED
    with pytest.raises(JobFailed, match="cancelled"):
        again.wait(progress=False)


def _assert_no_train_worker_alive(address: str, timeout: float = 20.0) -> None:
    """Ray's own state API lists no live Ray Train worker actor (they end with the job)."""
    from ray.util.state import list_actors

    deadline = time.monotonic() + timeout
    while True:
        alive = [
            actor
            for actor in list_actors(address=address, filters=[("state", "=", "ALIVE")])
            if "TrainWorker" in (actor.class_name or "")
        ]
        if not alive:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"Ray Train workers still alive after cancel: {alive}")
        time.sleep(0.5)


def test_ray_pause_resume_and_killed_workers_through_a_mounted_home(
    ray_head: str, client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, Any], home: Path
) -> None:
    mount = home.parent / "mount"  # the cluster sees the ftsdk home under another path
    mount.symlink_to(home, target_is_directory=True)
    job = client.train(
        dates_spec(
            tiny_model,
            dates[0],
            ftsdk.SFT(max_steps=200, batch_size=4, learning_rate=3e-3),
            **_options(ray_head, ray={"address": ray_head, "storage": str(mount)}),
        )
    )
    _wait_until_step(job, 2)
    job.pause()
    assert job.status is JobStatus.PAUSED
    paused_at = job.state.step or 0
    assert 2 <= paused_at < 200
    assert paused_at in [c.step for c in job.checkpoints()]
    ray_jobs = _ray_jobs(ray_head)
    first = _submissions(ray_jobs, job.id)
    assert [_ray_status(ray_jobs, s) for s in first] == ["SUCCEEDED"]  # its driver ended

    job.resume()  # then both training workers are killed: no rank is left to say so
    resumed = f"{first[0]}-resume-1"  # a resume is a new Ray job
    _wait_until_event(job, f"resuming from checkpoint-{paused_at}")
    for pid in _train_worker_pids(ray_head):
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(JobFailed):
        job.wait(poll_interval=0.5, progress=False)
    assert _ray_status(ray_jobs, resumed) == "FAILED"
    assert job.error is not None
    assert job.error.code == "ray_job_failed"
    assert job.error.message.startswith(f"Ray job {resumed} FAILED before the job finished")
    assert "end of its logs:" in job.error.message

    job.resume()
    job.wait(poll_interval=0.5, progress=False)
    assert job.state.step == 200
    assert [m.step for m in job.metrics()] == list(range(1, 201))  # none skipped
    messages = [e.message for e in job.events(all=True)]
    assert f"paused at step {paused_at} (checkpoint saved)" in messages
    submissions = [*first, resumed, f"{first[0]}-resume-2"]
    assert _submissions(ray_jobs, job.id) == submissions
    assert _ray_status(ray_jobs, submissions[-1]) == "SUCCEEDED"
    job.refresh()  # every Ray job has ended: their logs are in the folder's log, in order
    saved = (_trl(client).jobs_dir / job.id / "log").read_text(encoding="utf-8")
    headers = [line for line in saved.splitlines() if line.startswith("--- ")]
    assert [line.split(" Ray job ")[-1] for line in headers] == submissions
    assert job.state.result_model == str(_trl(client).jobs_dir / job.id / "model")
    assert job.model is not None
    assert job.model.chat(dates[1][0]["messages"][:-1], max_tokens=4).usage.completion_tokens


def _wait_until_event(job: Job, message: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while message not in [e.message for e in job.events(all=True)]:
        if job.refresh().status.is_terminal or time.monotonic() > deadline:
            pytest.fail(f"{job} never said {message!r}: {job.status} {job.error}")
        time.sleep(0.2)


def _train_worker_pids(address: str) -> list[int]:
    """The pids of the live Ray Train worker actors, as Ray's state API lists them."""
    from ray.util.state import list_actors

    actors = list_actors(address=address, filters=[("state", "=", "ALIVE")])
    pids = [
        int(actor.pid)
        for actor in actors
        if "TrainWorker" in (actor.class_name or "") and actor.pid is not None
    ]
    assert len(pids) == 2, actors
    return pids


def _submissions(ray_jobs: Any, job_id: str) -> list[str]:
    """The Ray jobs made for ftsdk job ``job_id``, oldest first."""
    found = [j for j in ray_jobs.list_jobs() if (j.metadata or {}).get("ftsdk_job_id") == job_id]
    return [j.submission_id for j in sorted(found, key=lambda j: j.start_time or 0)]


def test_ray_job_the_cluster_cannot_reach_fails_with_the_end_of_its_logs(
    ray_client_address: str, client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, Any]
) -> None:
    address = ray_client_address  # ray://: Ray finds the dashboard through the Ray Client
    job = client.train(
        dates_spec(
            tiny_model,
            dates[0],
            ftsdk.SFT(max_steps=2, batch_size=4),
            **_options(address, ray={"address": address, "storage": "/nonexistent/ftsdk"}),
        )
    )
    with pytest.raises(JobFailed) as caught:
        job.wait(poll_interval=0.2, progress=False)
    assert job.state.raw_status == "ray_failed"
    assert job.error is not None
    assert job.error.code == "ray_job_failed"
    assert "FAILED before the job finished" in job.error.message
    assert "no job folder at /nonexistent/ftsdk/trl/jobs/" in job.error.message
    assert caught.value is not None


def test_ray_needs_an_address(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, Any], monkeypatch: Any
) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    spec = dates_spec(tiny_model, dates[0], engine="ray")
    with pytest.raises(InvalidRequest, match="set RAY_ADDRESS or provider_options") as caught:
        client.check(spec)
    assert caught.value.field == "provider_options.ray.address"
    with pytest.raises(InvalidRequest, match="not a Ray cluster address"):
        client.check(dates_spec(tiny_model, dates[0], engine="ray", ray={"address": "head:8265"}))
    monkeypatch.setenv("RAY_ADDRESS", "http://127.0.0.1:1")
    with pytest.raises(InvalidRequest, match="storage URIs are not supported yet"):
        client.check(dates_spec(tiny_model, dates[0], engine="ray", ray={"storage": "s3://b/x"}))
    assert list(client.jobs()) == []


def test_ray_cluster_that_does_not_answer_leaves_no_job(
    home: Path, tiny_model: Path, dates: tuple[Path, Any], monkeypatch: Any
) -> None:
    monkeypatch.setenv("FTSDK_MAX_ATTEMPTS", "2")  # the create is retried: once more
    with socket.socket() as sock:  # a port nothing listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = ftsdk.client("trl", home=str(home))
    with pytest.raises(ProviderUnavailable, match=f"no Ray cluster answers at {address}"):
        client.train(dates_spec(tiny_model, dates[0], **_options(address)))
    assert client.jobs() == []  # nothing was submitted: a retry later starts afresh
    monkeypatch.setenv("RAY_ADDRESS", "http://other:8265")
    with pytest.raises(ConfigurationError, match="Ray's Jobs client always uses RAY_ADDRESS"):
        client.check(dates_spec(tiny_model, dates[0], **_options(address)))
