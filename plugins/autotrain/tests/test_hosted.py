"""Hosted backends against the Hub emulator (``HF_ENDPOINT``): the calls AutoTrain
makes, the Space's status read back, and the token kept out of logs and the job folder.

Runs AutoTrain's real Spaces / Inference Endpoints code in the runtime venv (no training)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import InvalidRequest
from ftsdk.jobs import Job, JobStatus
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk_emulator.hub import HubEmulator

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # the first one may build the runtime

TOKEN = "hf_fake_secret_token_123"
BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"  # a Hub id: only named, never downloaded


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubEmulator]:
    with HubEmulator(token=TOKEN, user="ftsdk-user") as emulated:
        monkeypatch.setenv("HF_ENDPOINT", emulated.url)
        monkeypatch.setenv("FTSDK_AUTOTRAIN_ENDPOINTS_URL", emulated.url + "/v2/endpoint/")
        monkeypatch.delenv("HF_TOKEN", raising=False)
        yield emulated


@pytest.fixture
def hosted(home: Path, autotrain_python: str) -> Iterator[ftsdk.Client]:
    with ftsdk.client("autotrain", home=str(home), python=autotrain_python, hf_token=TOKEN) as c:
        yield c


def submitted(job: Job, timeout: float = 180) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh()
        if job.status.is_terminal or job.raw_status.startswith(("space:", "submitted")):
            return job
        time.sleep(0.5)
    pytest.fail(f"{job} was not submitted in {timeout}s")


def no_token_in(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_spaces_backend_calls_and_status_and_the_token_stays_out(
    hub: HubEmulator, hosted: ftsdk.Client, tmp_path: Path, home: Path
) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(50))
    job = hosted.train(
        base_model=BASE,
        training_data=data,
        method=ftsdk.SFT(epochs=2, adapter="lora", learning_rate=2e-4),
        provider_options={"backend": "spaces-a10g-large", "username": "ftsdk-user"},
    )
    submitted(job)
    assert job.status is JobStatus.RUNNING, job.error
    assert job.raw_status == "space:RUNNING"
    project = json.loads((home / "autotrain" / "jobs" / job.id / "spec.json").read_text())[
        "params"
    ]["project_name"]
    space = f"ftsdk-user/autotrain-{project}"
    calls = hub.calls()
    dataset = f"ftsdk-user/autotrain-data-{project}"
    assert calls[0] == ("POST", "/api/repos/create")
    assert hub.requests[0].body["type"] == "dataset"
    assert ("POST", f"/api/datasets/{dataset}/commit/main") in calls
    created = hub.repos[f"spaces/{space}"]
    assert created.private
    assert created.settings["hardware"] == "a10g-large"
    assert created.settings["sdk"] == "docker"
    secrets = created.secrets
    assert list(secrets) == [
        "HF_TOKEN",
        "AUTOTRAIN_USERNAME",
        "PROJECT_NAME",
        "TASK_ID",
        "PARAMS",
        "DATA_PATH",
        "MODEL",
    ]
    assert secrets["HF_TOKEN"] == TOKEN  # the Space needs it: a secret of the Space
    params = json.loads(secrets["PARAMS"])
    assert (params["trainer"], params["epochs"], params["peft"], params["lr"]) == (
        "sft",
        2,
        True,
        2e-4,
    )
    assert params["data_path"] == dataset
    assert ("POST", f"/api/spaces/{space}/sleeptime") in calls
    assert {"README.md", "Dockerfile"} <= set(created.files)
    assert all(r.authorized for r in hub.requests)

    no_token_in(home)  # job folder, log, staged params, idempotency keys
    assert TOKEN not in repr(job)
    assert TOKEN not in " ".join(e.message for e in job.events())

    hub.space_stage = "PAUSED"  # AutoTrain pauses its Space when training ends
    hub.add_repo(f"ftsdk-user/{project}")  # the model the Space pushed
    job.refresh()
    assert job.status is JobStatus.SUCCEEDED
    assert job.state.result_model == f"ftsdk-user/{project}"


def test_a_space_that_stops_without_a_model_failed(
    hub: HubEmulator, hosted: ftsdk.Client, tmp_path: Path
) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(20))
    job = hosted.train(
        base_model=BASE,
        training_data=data,
        provider_options={"backend": "spaces-t4-small"},
    )
    submitted(job)
    hub.space_stage = "PAUSED"
    job.refresh()
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert "without pushing" in job.error.message


def test_inference_endpoints_backend_posts_to_the_endpoints_api(
    hub: HubEmulator, hosted: ftsdk.Client, tmp_path: Path, home: Path
) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(20))
    job = hosted.train(
        base_model=BASE,
        training_data=data,
        provider_options={"backend": "ep-aws-useast1-m", "username": "ftsdk-user"},
    )
    submitted(job)
    assert job.raw_status == "submitted", job.error
    posts = [r for r in hub.requests if r.path.startswith("/v2/endpoint/")]
    assert len(posts) == 1
    assert posts[0].path == "/v2/endpoint/ftsdk-user"
    assert posts[0].authorized
    no_token_in(home)


def test_hosted_backends_refuse_a_local_folder(
    hub: HubEmulator, hosted: ftsdk.Client, tiny_model: Path, tmp_path: Path
) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(20))
    with pytest.raises(InvalidRequest, match="push it to the Hub"):
        hosted.train(
            base_model=str(tiny_model),
            training_data=data,
            provider_options={"backend": "spaces-t4-small"},
        )
    assert hub.requests == []


def test_hosted_needs_a_token(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.delenv("HF_TOKEN", raising=False)
    data = write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(20))
    with (
        ftsdk.client("autotrain", home=str(home), python=sys.executable) as c,
        pytest.raises(InvalidRequest, match="HF_TOKEN"),
    ):
        c.train(
            base_model=BASE, training_data=data, provider_options={"backend": "spaces-t4-small"}
        )
