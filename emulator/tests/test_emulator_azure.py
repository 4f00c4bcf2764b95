"""The emulator behaves like Azure OpenAI's data plane, driven by ``openai.AzureOpenAI``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk_emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def azure(emulator: Emulator) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=emulator.url,
        api_key=emulator.api_key,
        api_version="2024-10-21",
        max_retries=0,
    )


def upload(client: openai.OpenAI, path: Path, **extra: Any) -> str:
    with path.open("rb") as stream:
        return client.files.create(file=stream, purpose="fine-tune", **extra).id


EXPIRY = {"expires_after": {"anchor": "created_at", "seconds": 3600}}
"""Required on the v1 API's ``POST /files`` (strict mode refuses an upload without it)."""


def test_dated_api_lifecycle_with_azures_differences(
    emulator: Emulator, azure: openai.AzureOpenAI, train_path: Path
) -> None:
    file_id = upload(azure, train_path)
    assert len(file_id) == len("file-") + 32
    job = azure.fine_tuning.jobs.create(model=BASE, training_file=file_id, suffix="dates")
    assert job.status == "pending"  # type: ignore[comparison-overlap]
    assert job.id.startswith("ftjob-")
    assert len(job.id) == len("ftjob-") + 32
    emulator.advance(3)
    assert azure.fine_tuning.jobs.retrieve(job.id).status == "pending"  # type: ignore[comparison-overlap]
    emulator.advance(3600)
    done = azure.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded"
    assert done.fine_tuned_model == f"{BASE}.{job.id.replace('ftjob-', 'ft-')}-dates"
    events = azure.fine_tuning.jobs.list_events(job.id, limit=1000).data
    created = [e.created_at for e in events]
    assert created == sorted(created)  # Azure's dated API lists oldest first
    assert events[0].message == f"Created fine-tuning job: {job.id}"
    checkpoints = azure.fine_tuning.jobs.checkpoints.list(job.id).data
    assert checkpoints[0].fine_tuned_model_checkpoint.startswith(
        f"{done.fine_tuned_model}:ckpt-step-"
    )
    requests = emulator.requests_to("POST /fine_tuning/jobs")
    assert requests[0].path == "/openai/fine_tuning/jobs"
    assert "api-version=2024-10-21" in requests[0].query
    assert requests[0].headers["api-key"] == "***"


def test_models_that_cannot_be_fine_tuned_are_listed(
    azure: openai.AzureOpenAI, train_path: Path
) -> None:
    file_id = upload(azure, train_path)
    with pytest.raises(openai.BadRequestError) as caught:
        azure.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=file_id)
    message = str(caught.value)
    assert "does not support fine-tuning" in message
    assert "gpt-35-turbo-0125" in message


def test_one_active_job_per_resource(
    emulator: Emulator, azure: openai.AzureOpenAI, train_path: Path
) -> None:
    file_id = upload(azure, train_path)
    first = azure.fine_tuning.jobs.create(model=BASE, training_file=file_id)
    with pytest.raises(openai.RateLimitError, match="limit"):
        azure.fine_tuning.jobs.create(model=BASE, training_file=file_id)
    azure.fine_tuning.jobs.cancel(first.id)
    assert azure.fine_tuning.jobs.create(model=BASE, training_file=file_id).status == "pending"  # type: ignore[comparison-overlap]


def test_file_limit_per_resource(
    emulator: Emulator, azure: openai.AzureOpenAI, train_path: Path
) -> None:
    emulator.config.azure_max_files = 2
    upload(azure, train_path)
    upload(azure, train_path)
    with pytest.raises(openai.BadRequestError, match="limit of 2"):
        upload(azure, train_path)


def test_wrong_key_and_missing_api_version(emulator: Emulator) -> None:
    wrong = openai.AzureOpenAI(
        azure_endpoint=emulator.url, api_key="nope", api_version="2024-10-21", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError, match="invalid subscription key"):
        wrong.files.list()
    import httpx

    answer = httpx.get(f"{emulator.url}/openai/files", headers={"api-key": emulator.api_key})
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_pause_exists_on_the_v1_api_only(
    emulator: Emulator, azure: openai.AzureOpenAI, train_path: Path
) -> None:
    v1 = openai.OpenAI(base_url=emulator.azure_v1_base_url, api_key=emulator.api_key, max_retries=0)
    job = v1.fine_tuning.jobs.create(model=BASE, training_file=upload(v1, train_path, **EXPIRY))
    emulator.advance(5)
    with pytest.raises(openai.NotFoundError):
        azure.fine_tuning.jobs.pause(job.id)
    assert v1.fine_tuning.jobs.pause(job.id).status == "paused"
    assert [r.path for r in emulator.requests_to("POST /fine_tuning/jobs/{id}/pause")] == [
        f"/openai/fine_tuning/jobs/{job.id}/pause",
        f"/openai/v1/fine_tuning/jobs/{job.id}/pause",
    ]


def test_azure_and_openai_objects_are_apart(
    emulator: Emulator, azure: openai.AzureOpenAI, openai_client: openai.OpenAI, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(12))
    file_id = upload(openai_client, path)
    with pytest.raises(openai.NotFoundError):
        azure.files.retrieve(file_id)
