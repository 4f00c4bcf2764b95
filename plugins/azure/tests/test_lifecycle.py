"""The lesson's Azure tutorial through ftsdk: fine-tune, deploy, chat with the deployment,
delete the deployment — with an API key and with Microsoft Entra ID."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk import JobStatus
from ftsdk.errors import InvalidRequest, PermissionDenied, UnsupportedOperation
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator
from ftsdk.testing.emulator.entra import CONTRIBUTOR, USER

BASE = "gpt-4o-mini-2024-07-18"


def test_fine_tune_deploy_chat_undeploy(
    client: ftsdk.Client, emulator: Emulator, mode: str, train_path: Path, tmp_path: Path
) -> None:
    valid = write_jsonl(tmp_path / "valid.jsonl", date_to_words_examples(10, seed=3))
    job = client.train(
        base_model=BASE,
        training_data=train_path,
        validation_data=valid,
        method=ftsdk.SFT(epochs=2),
        suffix="dates",
    )
    assert job.raw_status == "pending"
    assert job.status == JobStatus.QUEUED
    job.wait(poll_interval=0.02)
    events = job.events()
    assert events[0].message == f"Created fine-tuning job: {job.id}"  # oldest first
    assert [e.step for e in events if e.type == "metrics"] == sorted(
        e.step for e in events if e.type == "metrics"
    )
    assert job.checkpoints()[-1].model.startswith(f"{BASE}.ft-")
    model = job.model
    assert model is not None
    assert model.id == f"{BASE}.{job.id.replace('ftjob-', 'ft-')}-dates"
    deployed = model.deploy("dates-1", sku="standard", capacity=1)
    assert deployed.info.kind == "deployment"
    question = date_to_words_examples(30)[2]["messages"]
    answer = deployed.chat(question[1]["content"])
    assert answer.content == question[2]["content"]
    deployed.undeploy()
    with pytest.raises(ftsdk.errors.NotFound):
        deployed.chat("hello")
    requests = [r.path for r in emulator.requests]
    assert any(p.endswith("/deployments/dates-1") for p in requests)
    data_plane = [r for r in emulator.requests if r.path.startswith("/openai/")]
    if mode == "api-key":
        assert all(r.headers.get("api-key") == "***" for r in data_plane)
    else:
        assert all(r.headers.get("authorization") == "***" for r in data_plane)
        assert all("api-key" not in r.headers for r in data_plane)


def test_entra_tokens_are_refreshed_when_they_expire(
    emulator: Emulator, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.core.pipeline.policies import _authentication

    monkeypatch.setattr(_authentication, "MAX_REFRESH_JITTER_SECONDS", 0)
    emulator.issuer.expires_in = 301  # MSAL refreshes tokens with under 300 s left
    client = ftsdk.client("azure", **settings("entra"))
    client.jobs()
    import time

    time.sleep(1.5)
    client.jobs()
    assert len(emulator.issuer.issued(scope="https://cognitiveservices.azure.com/.default")) == 2


def test_deploy_errors_are_clear(client: ftsdk.Client, emulator: Emulator, mode: str) -> None:
    model = client.model(BASE)
    emulator.fail_next_deployment()
    with pytest.raises(ftsdk.errors.FtsdkError, match="deployment base-1 ended Failed"):
        model.deploy("base-1")
    principal = emulator.issuer.issued(scope="https://management.azure.com/.default")[-1].client_id
    assert principal is not None
    emulator.issuer.remove_role(principal, CONTRIBUTOR)
    emulator.issuer.assign_role(principal, USER)
    with pytest.raises(PermissionDenied, match="needs the Cognitive Services OpenAI Contributor"):
        model.deploy("base-2")
    emulator.issuer.assign_role(principal, CONTRIBUTOR)
    with pytest.raises(InvalidRequest, match="sku must be one of"):
        model.deploy("base-3", sku="premium")
    with pytest.raises(InvalidRequest, match="lower capacity"):
        model.deploy("base-4", capacity=1000)


def test_one_active_job_is_checked_before_calling(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    emulator.clock.speed = 0
    first = client.train(base_model=BASE, training_data=train_path)
    with pytest.raises(InvalidRequest, match=f"already runs 1 fine-tuning job.*{first.id}"):
        client.train(base_model=BASE, training_data=train_path)
    assert len(emulator.requests_to("POST /fine_tuning/jobs")) == 1
    first.cancel()
    assert client.train(base_model=BASE, training_data=train_path).status == JobStatus.QUEUED


def test_file_limit_is_checked_before_uploading(
    emulator: Emulator, settings: Any, tmp_path: Path
) -> None:
    client = ftsdk.client("azure", **settings("api-key", max_files=1))
    client.upload(write_jsonl(tmp_path / "a.jsonl", date_to_words_examples(10)))
    with pytest.raises(InvalidRequest, match="its limit of 1"):
        client.upload(write_jsonl(tmp_path / "b.jsonl", date_to_words_examples(11)))
    assert len(emulator.requests_to("POST /files")) == 1


def test_a_base_model_that_cannot_be_fine_tuned(client: ftsdk.Client, train_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="does not support fine-tuning") as caught:
        client.train(base_model="gpt-4o-mini", training_data=train_path)
    assert "gpt-35-turbo-0125" in str(caught.value)
    assert caught.value.field == "model"


def test_pause_needs_the_v1_api(emulator: Emulator, settings: Any, train_path: Path) -> None:
    emulator.clock.speed = 0
    dated = ftsdk.client("azure", **settings("api-key", api_version="2024-10-21"))
    job = dated.train(base_model=BASE, training_data=train_path)
    emulator.advance(5)
    with pytest.raises(UnsupportedOperation, match="azure does not support 'pause'"):
        job.pause()
    v1 = ftsdk.client("azure", **settings("entra", api_version="v1"))
    assert v1.job(job.id).pause().status == JobStatus.PAUSED
    assert v1.job(job.id).resume().status == JobStatus.RUNNING


@pytest.mark.parametrize("api_version", ["2024-10-21", "v1"])
def test_async_twin(emulator: Emulator, settings: Any, train_path: Path, api_version: str) -> None:
    import asyncio

    emulator.clock.speed = 2000
    emulator.config.deploy_seconds = 0.5

    async def workflow() -> str:
        client = ftsdk.async_client("azure", **settings("entra", api_version=api_version))
        job = await client.train(base_model=BASE, training_data=train_path)
        await job.wait(poll_interval=0.01)
        assert job.model is not None
        served = await job.model.ensure_deployed("async-1")
        answer = (await served.chat("convert 1974-02-09 to words")).content
        await served.undeploy()
        return answer

    assert asyncio.run(workflow())
    assert emulator.store.deployments == {}
