"""Each Azure OpenAI API version gets only what its published description defines, and its
answers are read as that description allows them (fields left out, Azure's own words).

The emulator runs in strict mode: a query parameter or body field the request's version
does not define, or a required one left out, is refused as Azure's description refuses it
(``emulator/ftsdk_emulator/azure-subset.json``, from ``specs/azure/``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk import JobStatus
from ftsdk.errors import InvalidRequest, ProviderUnavailable, UnsupportedOperation
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"
DATED = "2024-10-21"
TIMEOUT = 2.0
"""The client's timeout in the late-answer tests: long enough for any answer not held."""


def preference_examples(n: int) -> list[dict[str, Any]]:
    return [
        {
            "input": {"messages": [{"role": "user", "content": f"Say {i}"}]},
            "preferred_output": [{"role": "assistant", "content": f"{i}"}],
            "non_preferred_output": [{"role": "assistant", "content": f"number {i}"}],
        }
        for i in range(n)
    ]


@pytest.fixture
def azure(emulator: Emulator, settings: Any) -> Iterator[Any]:
    """``azure(api_version, **extra)``: a client on that API version, closed at the end."""
    emulator.clock.speed = 500
    made: list[ftsdk.Client] = []

    def make(api_version: str, **extra: Any) -> ftsdk.Client:
        policy = ftsdk.RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05)
        client = ftsdk.client(
            "azure", retry=policy, **settings("api-key", api_version=api_version, **extra)
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


# -- the job create ----------------------------------------------------------------------
def test_the_dated_api_gets_top_level_hyperparameters_and_no_method_or_metadata(
    azure: Any, emulator: Emulator, train_path: Path
) -> None:
    client = azure(DATED)
    job = client.train(base_model=BASE, training_data=train_path, method=ftsdk.SFT(epochs=3))
    assert [j.hyperparameters["n_epochs"] for j in emulator.jobs] == [3]
    assert emulator.jobs[0].metadata is None
    assert job.raw_status == "pending"


def test_dpo_on_the_dated_api_is_refused_before_any_upload(
    azure: Any, emulator: Emulator, tmp_path: Path
) -> None:
    prefs = write_jsonl(tmp_path / "prefs.jsonl", preference_examples(12))
    with pytest.raises(UnsupportedOperation, match="dpo"):
        azure(DATED).train(base_model=BASE, training_data=prefs, method=ftsdk.DPO())
    assert emulator.requests_to("POST /files") == []
    assert emulator.jobs == []


def test_metadata_on_the_dated_api_is_refused_before_upload_not_dropped(
    azure: Any, emulator: Emulator, train_path: Path
) -> None:
    with pytest.raises(InvalidRequest, match='api_version="v1"') as caught:
        azure(DATED).train(base_model=BASE, training_data=train_path, metadata={"team": "a"})
    assert caught.value.field == "metadata"
    assert emulator.requests_to("POST /files") == []


def test_a_dpo_job_read_through_the_dated_api_is_not_called_sft(azure: Any, tmp_path: Path) -> None:
    prefs = write_jsonl(tmp_path / "prefs.jsonl", preference_examples(12))
    job = azure("v1").train(base_model=BASE, training_data=prefs, method=ftsdk.DPO(beta=0.2))
    assert azure("v1").job(job.id).state.method == "dpo"
    assert azure(DATED).job(job.id).state.method is None  # 2024-10-21's job says no method


def test_the_training_tier_is_typed_and_checked_before_upload(
    azure: Any, emulator: Emulator, train_path: Path
) -> None:
    with pytest.raises(InvalidRequest, match="training_type"):
        azure("v1").train(
            base_model=BASE, training_data=train_path, provider_options={"training_type": "gold"}
        )
    assert emulator.requests_to("POST /files") == []
    job = azure("v1").train(
        base_model=BASE, training_data=train_path, provider_options={"training_type": "developer"}
    )
    assert job.status == JobStatus.QUEUED


# -- files -------------------------------------------------------------------------------
@pytest.mark.parametrize("api_version", [DATED, "v1"])
def test_the_file_list_is_read_once_never_paged(
    azure: Any, emulator: Emulator, tmp_path: Path, api_version: str
) -> None:
    """Neither version defines ``after`` on ``GET /files``; 2024-10-21's list has no
    ``has_more``: the openai client paged it forever against a service ignoring ``after``."""
    client = azure(api_version)
    for n in (10, 11, 12):
        client.upload(write_jsonl(tmp_path / f"d{n}.jsonl", date_to_words_examples(n)))
    listings = emulator.requests_to("GET /files")
    assert listings
    assert not any("after=" in r.query for r in listings)
    assert len(emulator.files) == 3


def test_the_v1_api_uploads_with_an_expiry(
    azure: Any, emulator: Emulator, train_path: Path
) -> None:
    """The v1 spec requires ``expires_after`` on ``POST /files`` (strict mode refuses the
    upload without it); the dated API does not define it."""
    azure("v1", file_ttl=7 * 24 * 3600).upload(train_path)
    azure(DATED).upload(write_jsonl(train_path.with_name("b.jsonl"), date_to_words_examples(11)))
    assert len(emulator.files) == 2


def test_a_deleted_file_ends_the_wait_at_once(
    azure: Any, emulator: Emulator, train_path: Path
) -> None:
    deleted = {
        "object": "file",
        "id": "file-gone",
        "bytes": 10,
        "created_at": 1,
        "filename": "train.jsonl",
        "purpose": "fine-tune",
        "status": "deleted",
    }
    emulator.faults.add("POST /files", body=deleted)
    with pytest.raises(InvalidRequest, match="file-gone is deleted"):
        azure(DATED).upload(train_path)


# -- answers without what the spec does not require ------------------------------------
def test_events_checkpoints_and_jobs_without_ids(
    azure: Any, emulator: Emulator, train_path: Path
) -> None:
    client = azure(DATED)
    job = client.train(base_model=BASE, training_data=train_path)
    events = [
        {"object": "fine_tuning.job.event", "created_at": 100 + i, "level": "info",
         "message": f"step {i}", "type": "message"}
        for i in range(3)
    ]  # fmt: skip
    emulator.faults.add(
        "GET /fine_tuning/jobs/{job_id}/events",
        body={"object": "list", "data": events},
        times=None,
    )
    seen = job.events()
    assert [e.message for e in seen] == ["step 0", "step 1", "step 2"]
    assert len({e.id for e in seen}) == 3
    assert job.events() == []  # incremental, with the stand-in ids
    emulator.faults.add(
        "GET /fine_tuning/jobs/{job_id}/checkpoints",
        body={
            "object": "list",
            "data": [
                {"created_at": 5, "fine_tuned_model_checkpoint": f"{BASE}.ft-x:ckpt-step-4",
                 "step_number": 4, "metrics": {"train_loss": 0.5}, "fine_tuning_job_id": job.id}
            ],
        },
    )  # fmt: skip
    [checkpoint] = job.checkpoints()
    assert checkpoint.step == 4
    assert checkpoint.metrics == {"train_loss": 0.5}
    emulator.faults.add(
        "GET /fine_tuning/jobs/{job_id}",
        body={
            "object": "fine_tuning.job",
            "model": BASE,
            "training_file": "f",
            "status": "pending",
        },
    )
    assert client.job(job.id).id == job.id


def test_a_created_job_without_an_id_is_a_clear_error(
    azure: Any, emulator: Emulator, train_path: Path
) -> None:
    emulator.faults.add(
        "POST /fine_tuning/jobs",
        status=201,
        body={
            "object": "fine_tuning.job",
            "model": BASE,
            "training_file": "f",
            "status": "pending",
        },
        times=None,
    )
    with pytest.raises(ProviderUnavailable, match="job that has no id"):
        azure(DATED).train(base_model=BASE, training_data=train_path)


# -- Azure's words and nulls ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("created", JobStatus.QUEUED),
        ("pending", JobStatus.QUEUED),
        ("validating_files", JobStatus.VALIDATING),
        ("queued", JobStatus.QUEUED),
        ("running", JobStatus.RUNNING),
        ("paused", JobStatus.PAUSED),
        ("succeeded", JobStatus.SUCCEEDED),
        ("failed", JobStatus.FAILED),
        ("cancelled", JobStatus.CANCELLED),
        ("notRunning", JobStatus.QUEUED),  # an unknown word: never "running"
        ("Canceling", JobStatus.CANCELLED),
    ],
)
def test_every_status_word_and_the_nulls(
    azure: Any, emulator: Emulator, raw: str, status: JobStatus, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.faults.add(
        "GET /fine_tuning/jobs/{job_id}",
        body={
            "object": "fine_tuning.job",
            "id": "ftjob-1",
            "model": BASE,
            "training_file": "file-1",
            "status": raw,
            "organization_id": None,
            "result_files": None,
            "fine_tuned_model": None,
            "created_at": 1,
        },
    )
    with caplog.at_level(logging.WARNING, logger="ftsdk.azure"):
        job = azure("v1").job("ftjob-1")
    assert (job.status, job.raw_status) == (status, raw)


# -- idempotent create -----------------------------------------------------------------------
def test_a_job_list_that_ignores_a_filter_never_stands_in_for_a_new_job(
    azure: Any, emulator: Emulator, train_path: Path
) -> None:
    other = {
        "object": "fine_tuning.job",
        "id": "ftjob-someone-elses",
        "model": BASE,
        "training_file": "file-other",
        "status": "succeeded",
        "created_at": 1,
        "metadata": {},
    }
    emulator.faults.add(
        "GET /fine_tuning/jobs", body={"object": "list", "data": [other], "has_more": False}
    )
    job = azure("v1").train(base_model=BASE, training_data=train_path)
    assert job.id != "ftjob-someone-elses"
    assert len(emulator.requests_to("POST /fine_tuning/jobs")) == 1
    assert not any("metadata" in r.query for r in emulator.requests_to("GET /fine_tuning/jobs"))


@pytest.mark.parametrize("api_version", [DATED, "v1"])
@pytest.mark.parametrize("seed", [None, 7])
def test_a_create_answered_after_the_timeout_makes_one_job(
    azure: Any, emulator: Emulator, train_path: Path, api_version: str, seed: int | None
) -> None:
    fault = emulator.faults.add("POST /fine_tuning/jobs", drop="late")
    client = azure(api_version, timeout=TIMEOUT)
    job = client.train(base_model=BASE, training_data=train_path, seed=seed, suffix="late")
    assert fault.fired == 1
    assert [j.id for j in emulator.jobs] == [job.id]
    # a second train() of the same data is a new job, not the first one found again
    emulator.clock.speed = 0
    emulator.config.azure_max_active_jobs = 5
    again = client.train(base_model=BASE, training_data=train_path, seed=seed, suffix="late")
    assert again.id != job.id


def test_a_deleted_file_is_not_reused(azure: Any, emulator: Emulator, train_path: Path) -> None:
    """The content-hash look-up checks what the list says of each file, not only its name."""
    client = azure(DATED)
    first = client.upload(train_path)
    [stored] = emulator.files
    listed = {
        "object": "file",
        "id": first.id,
        "bytes": first.bytes,
        "created_at": 1,
        "filename": stored.filename,
        "purpose": "fine-tune",
        "status": "deleted",
    }
    emulator.faults.add("GET /files", body={"object": "list", "data": [listed]}, times=None)
    again = client.upload(train_path)
    assert again.id != first.id
    assert len(emulator.requests_to("POST /files")) == 2
