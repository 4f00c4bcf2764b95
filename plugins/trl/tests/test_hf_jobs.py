"""A TRL job on Hugging Face Jobs, against the Hub emulation (``ftsdk.testing.hub``): the
Job's command runs as a real local process (this venv standing in for the image), trains
the tiny model with the real runner, reports through its log and pushes its model to the
emulated Hub; the provider reads it all back into the local job folder."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi

import ftsdk
from ftsdk.errors import (
    AuthenticationError,
    InvalidRequest,
    JobFailed,
    MissingCredentials,
    PermissionDenied,
)
from ftsdk.jobs import JobStatus
from ftsdk.testing.hub import HubEmulator
from ftsdk.testing.local import watch_from_another_process

pytestmark = pytest.mark.slow

TOKEN = "hf_jobs_secret_token_8472"
USER = "alice"
BASE = f"{USER}/tiny-llama"


@pytest.fixture
def hub(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubEmulator]:
    """The emulated Hub with the tiny model on it, as this process's ``HF_ENDPOINT`` and
    ``HF_TOKEN`` (the Hub's cache in the test's folder)."""
    with HubEmulator(token=TOKEN, user=USER) as emulated:
        monkeypatch.setenv("HF_ENDPOINT", emulated.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # for the watching process
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        api = HfApi(endpoint=emulated.url, token=TOKEN)
        api.create_repo(BASE, private=True)
        api.upload_folder(folder_path=tiny_model, repo_id=BASE)
        yield emulated


def hf_jobs_spec(train: Path, **method: Any) -> ftsdk.JobSpec:
    """The job on Hugging Face Jobs: the image is this venv, so nothing to install."""
    return ftsdk.JobSpec(
        base_model=BASE,
        training_data=train,
        method=ftsdk.SFT(batch_size=8, learning_rate=3e-3, **method),
        seed=0,
        provider_options={
            "engine": "hf_jobs",
            "num_threads": 1,
            "logging_steps": 1,
            "hf_jobs": {"install": [], "flavor": "cpu-basic"},
        },
    )


def poll_until(job: ftsdk.Job, stop: threading.Event) -> None:
    """Refresh ``job`` (reading its Hugging Face Job) until ``stop`` or its end."""
    while not stop.is_set() and not job.refresh().status.is_terminal:
        time.sleep(0.1)


def no_token_anywhere(hub: HubEmulator, home: Path, *texts: str) -> None:
    """The token is in no file of the ftsdk home, no recorded request, none of ``texts``."""
    for path in home.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in repr(hub.requests)
    for text in texts:
        assert TOKEN not in text


def test_hf_jobs_run_is_watched_from_another_process_pushed_and_chats(
    hub: HubEmulator,
    client: ftsdk.Client,
    home: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    subprocess_env: dict[str, str],
) -> None:
    train, held_out = dates
    job = client.train(hf_jobs_spec(train, max_steps=6))
    remote = json.loads((home / "trl" / "jobs" / job.id / "hf_job.json").read_text())
    hf_job = hub.jobs.job(remote["id"])
    assert hf_job.secrets == {"HF_TOKEN": TOKEN}  # the only way the token travels
    assert hf_job.labels["ftsdk-job"] == job.id
    assert set(hub.repos[f"datasets/{USER}/{job.id}-inputs"].files) == {
        "spec.json",
        "train.jsonl",
    }

    # this process replays the log too, while the other one watches: the lock and the
    # records' numbers keep each event once, whoever reads first
    stop = threading.Event()
    polled = threading.Thread(target=lambda: poll_until(job, stop), daemon=True)
    polled.start()
    env = subprocess_env | {"HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN}
    try:
        seen = watch_from_another_process("trl", job.id, env, timeout=300)
    except subprocess.CalledProcessError as err:
        pytest.fail(f"the watching process failed:\n{err.stderr}")
    finally:
        stop.set()
        polled.join(timeout=60)
    assert seen["status"] == "succeeded", seen
    assert seen["step"] == 6
    assert any(e.startswith("training: step 0 of 6") for e in seen["events"])
    assert f"model pushed to {USER}/{job.id}" in seen["events"]
    assert len(seen["losses"]) == 6

    job.wait(progress=False)
    assert hub.jobs.job(remote["id"]).stage == "COMPLETED"
    # the same events, with the same ids, whichever process replayed the log first
    events = [(e.id, e.message) for e in job.events()]
    assert [m for _, m in events] == seen["events"]
    assert [i for i, _ in events] == [str(n) for n in range(1, len(events) + 1)]
    assert len({m for _, m in events}) == len(events)  # no event twice
    assert [m.step for m in job.metrics()] == [1, 2, 3, 4, 5, 6]

    pushed = hub.repos[f"{USER}/{job.id}"]
    assert pushed.private
    assert "model.safetensors" in pushed.files
    local = Path(job.state.result_model or "")
    assert local == home / "trl" / "jobs" / job.id / "model"
    assert (local / "model.safetensors").read_bytes() == pushed.files["model.safetensors"]
    assert job.model is not None
    answer = job.model.chat(held_out[0]["messages"][:-1], max_tokens=8)
    assert answer.usage.completion_tokens > 0

    with pytest.raises(InvalidRequest, match="runs on Hugging Face Jobs, where a job cannot"):
        job.resume()
    log = hub.jobs.log_text(remote["id"])
    assert "FTSDK-JOB " in log
    no_token_anywhere(hub, home, log, repr(client), repr(job), str(seen))


def test_hf_jobs_cancel_kills_the_job(
    hub: HubEmulator,
    client: ftsdk.Client,
    home: Path,
    dates: tuple[Path, list[dict[str, Any]]],
) -> None:
    import psutil  # type: ignore[import-untyped]

    job = client.train(hf_jobs_spec(dates[0], epochs=50))
    remote = json.loads((home / "trl" / "jobs" / job.id / "hf_job.json").read_text())
    hf_job = hub.jobs.job(remote["id"])
    assert hf_job.process is not None
    process = psutil.Process(hf_job.process.pid)
    deadline = time.monotonic() + 120
    while not job.refresh().state.step:  # training has begun
        assert not job.status.is_terminal, job.error
        assert time.monotonic() < deadline, "no step in 120 s"
        time.sleep(0.1)
    family = [process, *process.children(recursive=True)]
    job.cancel()
    assert job.status is JobStatus.CANCELLED
    assert hf_job.stage == "CANCELED"
    _, alive = psutil.wait_procs(family, timeout=5)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
    again = ftsdk.client("trl", home=str(home)).job(job.id)  # as another process sees it
    assert again.status is JobStatus.CANCELLED
    with pytest.raises(JobFailed, match="cancelled"):
        again.wait(progress=False)
    assert f"{USER}/{job.id}" not in hub.repos  # nothing pushed
    no_token_anywhere(hub, home)


def test_hf_jobs_timeout_fails_the_job_with_the_service_message(
    hub: HubEmulator, client: ftsdk.Client, home: Path, dates: tuple[Path, Any]
) -> None:
    """The service stops a Job past its ``timeout`` (stage ERROR): our job is ``failed``
    with the service's message, and its process is gone."""
    spec = hf_jobs_spec(dates[0], epochs=50)
    options = dict(spec.provider_options)
    options["hf_jobs"] = {"install": [], "timeout": 2}
    job = client.train(spec.model_copy(update={"provider_options": options}))
    remote = json.loads((home / "trl" / "jobs" / job.id / "hf_job.json").read_text())
    hf_job = hub.jobs.wait(remote["id"], timeout=60)
    assert (hf_job.stage, hf_job.message) == ("ERROR", "Job timed out after 2s")
    assert hf_job.process is not None
    assert hf_job.process.poll() is not None  # killed: the container is stopped
    with pytest.raises(JobFailed, match="Job timed out after 2s"):
        job.wait(poll_interval=0.5, progress=False)
    assert job.state.raw_status == "error"


def test_hf_jobs_a_start_the_hub_refuses_fails_the_job(
    hub: HubEmulator, client: ftsdk.Client, home: Path, dates: tuple[Path, Any]
) -> None:
    """Jobs in a namespace the token may not use: refused (403) at ``run_job``, after the
    job folder exists; the job is ``failed`` with the Hub's answer, never left queued."""
    spec = hf_jobs_spec(dates[0], max_steps=2)
    options = dict(spec.provider_options)
    options["hf_jobs"] = {"install": [], "namespace": "someone-else"}
    with pytest.raises(PermissionDenied, match="you cannot run jobs in someone-else"):
        client.train(spec.model_copy(update={"provider_options": options}))
    assert not hub.jobs.jobs
    (folder,) = home.glob("trl/jobs/*")
    job = client.job(folder.name)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert "you cannot run jobs in someone-else" in job.error.message
    assert job.error.code == "hf_job_not_started"


def test_hf_jobs_refused_without_a_token_or_with_a_wrong_one(
    hub: HubEmulator,
    home: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = hf_jobs_spec(dates[0], max_steps=2)
    monkeypatch.delenv("HF_TOKEN")
    with (
        ftsdk.client("trl", home=str(home)) as client,
        pytest.raises(MissingCredentials, match="set HF_TOKEN"),
    ):
        client.train(spec)
    wrong = "hf_wrong_token_5150"
    with ftsdk.client(
        "trl", home=str(home), hf_token=wrong, retry=ftsdk.RetryPolicy(max_attempts=1)
    ) as client:
        with pytest.raises(AuthenticationError, match="set HF_TOKEN") as caught:
            client.train(spec)
        assert wrong not in str(caught.value)
    assert not hub.jobs.jobs  # nothing started, no job folder made
    assert not list(home.glob("trl/jobs/*"))


def test_hf_jobs_needs_a_hub_model(
    hub: HubEmulator, client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, Any]
) -> None:
    spec = hf_jobs_spec(dates[0], max_steps=2)
    with pytest.raises(InvalidRequest, match="not a Hugging Face id"):
        client.train(spec.model_copy(update={"base_model": str(tiny_model)}))
    with pytest.raises(InvalidRequest, match="not on the Hub"):
        client.train(spec.model_copy(update={"base_model": f"{USER}/missing"}))


def test_hf_jobs_remote_runner_prints_records_a_progress_bar_cannot_break() -> None:
    """The remote runner's records survive a progress bar's ``\\r`` on the same line."""
    code = (
        "import sys; from ftsdk_trl.engines.hf_remote import Reporter, _forward; "
        "import io; r = Reporter(None, sys.stdout); "
        "_forward(io.BufferedReader(io.BytesIO(b' 50%|###\\r 90%|####\\rdone\\n')), r); "
        "r.event('after the bar')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    from ftsdk_trl.engines.hf_remote import parse_line

    lines = out.splitlines()
    assert lines[:3] == [" 50%|###", " 90%|####", "done"]
    record = parse_line(lines[3])
    assert record is not None
    assert record["data"]["message"] == "after the bar"


# -- one user script, every engine ------------------------------------------------------
USER_SCRIPT = """
import json, sys

import ftsdk

options = json.loads(sys.argv[2])
with ftsdk.client("trl") as client:
    job = client.train(
        base_model="{base}",
        training_data=sys.argv[1],
        method=ftsdk.SFT(batch_size=8, learning_rate=3e-3, max_steps=6),
        seed=0,
        provider_options={{"num_threads": 1, "logging_steps": 1, **options}},
    )
    job.wait(progress=False)
    answer = job.model.chat("convert 2024-03-07 to words", max_tokens=8)
    print(json.dumps({{
        "status": job.status.value,
        "step": job.state.step,
        "losses": [m.values["train_loss"] for m in job.metrics() if "train_loss" in m.values],
        "tokens": answer.usage.completion_tokens,
    }}))
"""
"""What a user writes: train, wait, chat; the engine is only in the provider options."""

ENGINE_OPTIONS: dict[str, dict[str, Any]] = {
    "local": {},
    "ddp": {"num_processes": 2},
    "hf_jobs": {"engine": "hf_jobs", "hf_jobs": {"install": []}},
    "ray": {"engine": "ray", "num_processes": 2},  # the head at RAY_ADDRESS
}


def test_hf_jobs_ddp_local_ray_run_one_user_script_unchanged(
    hub: HubEmulator,
    ray_head: str,
    tmp_path: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    subprocess_env: dict[str, str],
) -> None:
    """The same script, run as a user runs it (a new Python process), with only the
    provider options changed: every engine trains the same 6 steps, reports their losses,
    and hands back a model that answers here."""
    from huggingface_hub import snapshot_download

    # the local engines read the base model from the local Hugging Face cache, as a user
    # who downloaded it (hf download); HF Jobs reads it from the Hub
    hf_home = tmp_path / "hf-home"  # huggingface_hub read HF_HOME at import: say it here
    snapshot_download(BASE, token=TOKEN, endpoint=hub.url, cache_dir=hf_home / "hub")
    script = tmp_path / "train.py"
    script.write_text(USER_SCRIPT.format(base=BASE), encoding="utf-8")
    env = subprocess_env | {
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": TOKEN,
        "HF_HOME": str(hf_home),
        "RAY_ADDRESS": ray_head,  # Ray's own variable: the script names no cluster
    }
    seen = {}
    for engine, options in ENGINE_OPTIONS.items():
        run = subprocess.run(
            [sys.executable, str(script), str(dates[0]), json.dumps(options)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert run.returncode == 0, f"{engine}:\n{run.stderr[-3000:]}"
        seen[engine] = json.loads(run.stdout.strip().splitlines()[-1])
    for engine, result in seen.items():
        assert result["status"] == "succeeded", (engine, result)
        assert result["step"] == 6, (engine, result)
        assert len(result["losses"]) == 6, (engine, result)
        assert result["losses"][-1] < result["losses"][0], (engine, result)
        assert result["tokens"] > 0, (engine, result)
    # one process trains what two do: the same examples per step, the same first loss
    assert seen["ddp"]["losses"][0] == pytest.approx(seen["local"]["losses"][0], rel=0.05)
    assert seen["ray"]["losses"][0] == pytest.approx(seen["local"]["losses"][0], rel=0.05)
    home = subprocess_env["FTSDK_HOME"]
    engines = {job.id: job for job in ftsdk.client("trl", home=home).jobs()}
    assert len(engines) == len(ENGINE_OPTIONS)
