"""A create the service received in full and committed, but answered only after the
client's timeout: the core's retry must find what was made, not make a second one.

The emulator's ``drop="late"`` fault commits the request, then holds the answer until the
client gives up (closes the connection) and loses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import ftsdk
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"
TIMEOUT = 2.0
"""The client's timeout: long enough for any answer that is not held back."""


@pytest.fixture
def impatient(emulator: Emulator, tmp_path: Path) -> Iterator[ftsdk.Client]:
    """An OpenAI client that gives up on an answer after :data:`TIMEOUT` seconds."""
    emulator.clock.speed = 500
    policy = ftsdk.RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05)
    with ftsdk.client(
        "openai",
        api_key=emulator.api_key,
        base_url=emulator.openai_base_url,
        home=tmp_path / "home",
        retry=policy,
        timeout=TIMEOUT,
        upload_threshold=1024,  # the training file goes through the Uploads API
        upload_part_size=1024,
    ) as c:
        yield c


def stored_names(emulator: Emulator) -> list[str]:
    return sorted(f.filename.split(".ftsdk-")[0] for f in emulator.files)


@pytest.mark.parametrize(
    "route",
    [
        "POST /fine_tuning/jobs",
        "POST /files",
        "POST /uploads",
        "POST /uploads/{upload_id}/parts",
        "POST /uploads/{upload_id}/complete",
    ],
)
def test_a_create_answered_after_the_timeout_is_not_made_twice(
    route: str, impatient: ftsdk.Client, emulator: Emulator, train_path: Path, tmp_path: Path
) -> None:
    small = tmp_path / "valid.jsonl"
    small.write_text(train_path.read_text().splitlines()[0] + "\n")  # under the threshold
    fault = emulator.faults.add(route, drop="late")
    job = impatient.train(
        base_model=BASE, training_data=train_path, validation_data=small, check_data=False
    )
    assert fault.fired == 1
    assert stored_names(emulator) == ["train", "valid"]
    assert [j.id for j in emulator.jobs] == [job.id]


def test_a_job_is_never_taken_from_a_list_that_ignored_the_filter(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    """A service that ignores ``metadata[...]`` on ``GET /fine_tuning/jobs`` answers with
    other jobs: ftsdk checks the key of what comes back instead of trusting the filter."""
    import openai

    first = client.train(base_model=BASE, training_data=train_path)
    with openai.OpenAI(base_url=emulator.openai_base_url, api_key=emulator.api_key) as raw:
        unfiltered = raw.fine_tuning.jobs.list().model_dump(mode="json")
    emulator.faults.add("GET /fine_tuning/jobs", body=unfiltered, times=None)
    second = client.train(base_model=BASE, training_data=train_path)
    assert second.id != first.id
    assert sorted(j.id for j in emulator.jobs) == sorted([first.id, second.id])


def test_a_file_is_never_taken_from_a_list_that_ignored_the_purpose(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    """A file of another purpose under the same name is not training data: a service that
    ignores ``purpose`` on ``GET /files`` must not make ftsdk reuse it."""
    import openai

    from ftsdk.dataset import Dataset
    from ftsdk_openai.uploads import stored_name

    name = stored_name(train_path, Dataset.load(train_path).content_hash())
    with openai.OpenAI(base_url=emulator.openai_base_url, api_key=emulator.api_key) as raw:
        raw.files.create(file=(name, train_path.read_bytes()), purpose="assistants")
        unfiltered = raw.files.list().model_dump(mode="json")
    emulator.faults.add("GET /files", body=unfiltered, times=None)
    job = client.train(base_model=BASE, training_data=train_path)
    [made] = emulator.jobs
    assert made.id == job.id
    assert emulator.store.files[made.training_file].purpose == "fine-tune"
