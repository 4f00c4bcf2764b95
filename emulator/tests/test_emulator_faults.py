"""Each scripted fault happens, and shows in the request log."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest

from ftsdk_emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"


def upload(client: openai.OpenAI, path: Path) -> str:
    with path.open("rb") as stream:
        return client.files.create(file=stream, purpose="fine-tune").id


def test_429_with_retry_after_headers(emulator: Emulator, openai_client: openai.OpenAI) -> None:
    emulator.faults.add("GET /models", status=429, retry_after=3, retry_after_ms=2500)
    with pytest.raises(openai.RateLimitError) as caught:
        openai_client.models.list()
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.response.headers["retry-after-ms"] == "2500"
    assert caught.value.code == "rate_limit_exceeded"
    assert openai_client.models.list().data  # fired once only
    log = emulator.requests_to("GET /models")
    assert [(r.status, r.fault) for r in log] == [(429, "429"), (200, None)]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(emulator: Emulator, openai_client: openai.OpenAI, status: int) -> None:
    emulator.faults.add("GET /models", status=status)
    with pytest.raises(openai.InternalServerError) as caught:
        openai_client.models.list()
    assert caught.value.status_code == status
    assert emulator.requests[-1].fault == str(status)


def test_the_clients_own_retry_gets_through_and_both_attempts_are_logged(
    emulator: Emulator,
) -> None:
    emulator.faults.add("GET /models", status=429, retry_after_ms=10)
    client = openai.OpenAI(
        base_url=emulator.openai_base_url, api_key=emulator.api_key, max_retries=1
    )
    assert client.models.list().data
    assert [r.status for r in emulator.requests_to("GET /models")] == [429, 200]


def test_drop_before_the_route_creates_nothing(
    emulator: Emulator, openai_client: openai.OpenAI, train_path: Path
) -> None:
    file_id = upload(openai_client, train_path)
    emulator.faults.add("POST /fine_tuning/jobs", drop="before")
    with pytest.raises(openai.APIConnectionError):
        openai_client.fine_tuning.jobs.create(model=BASE, training_file=file_id)
    assert emulator.jobs == []
    assert emulator.requests[-1].fault == "drop:before"


def test_drop_after_the_route_loses_only_the_answer(
    emulator: Emulator, openai_client: openai.OpenAI, train_path: Path
) -> None:
    file_id = upload(openai_client, train_path)
    emulator.faults.add("POST /fine_tuning/jobs", drop="after")
    with pytest.raises(openai.APIConnectionError):
        openai_client.fine_tuning.jobs.create(
            model=BASE, training_file=file_id, metadata={"key": "k1"}
        )
    [job] = emulator.jobs
    assert job.metadata == {"key": "k1"}
    assert emulator.requests[-1].fault == "drop:after"


def test_a_late_answer_commits_then_reaches_no_one(
    emulator: Emulator, openai_client: openai.OpenAI, train_path: Path
) -> None:
    file_id = upload(openai_client, train_path)
    fault = emulator.faults.add("POST /fine_tuning/jobs", drop="late")
    with pytest.raises(openai.APITimeoutError):
        openai_client.with_options(timeout=0.5).fine_tuning.jobs.create(
            model=BASE, training_file=file_id, metadata={"key": "k1"}
        )
    [job] = emulator.jobs  # committed before the client gave up
    assert job.metadata == {"key": "k1"}
    assert fault.fired == 1
    assert emulator.requests[-1].fault == "drop:late"


def test_a_late_answer_reaches_a_patient_client(
    emulator: Emulator, openai_client: openai.OpenAI
) -> None:
    """With ``delay``, the answer is held at most that long, then sent."""
    fault = emulator.faults.add("GET /models", drop="late", delay=0.01)
    assert openai_client.models.list().data
    assert fault.fired == 1
    assert emulator.requests[-1].status == 200


def test_a_hand_written_answer_replaces_the_route(
    emulator: Emulator, openai_client: openai.OpenAI
) -> None:
    answer = {"id": "ft:x", "object": "model", "deleted": False}
    fault = emulator.faults.add("DELETE /models/{model}", body=answer, headers={"x-a": "1"})
    deleted = openai_client.models.with_raw_response.delete("ft:x")
    assert deleted.headers["x-a"] == "1"
    assert deleted.parse().deleted is False
    emulator.faults.add("GET /models", body={"error": {"message": "no"}}, status=422)
    with pytest.raises(openai.UnprocessableEntityError):
        openai_client.models.list()
    assert fault.fired == 1
    assert [r.fault for r in emulator.requests] == ["body", "body"]


def test_drop_mid_upload_stores_no_part(emulator: Emulator, openai_client: openai.OpenAI) -> None:
    data = b"x" * 200_000
    up = openai_client.uploads.create(
        bytes=len(data), filename="big.jsonl", mime_type="text/jsonl", purpose="fine-tune"
    )
    emulator.faults.add("POST /uploads/{upload_id}/parts", drop="mid_upload")
    with pytest.raises(openai.APIConnectionError):
        openai_client.uploads.parts.create(up.id, data=data)
    assert emulator.store.uploads[up.id].parts == {}
    part = openai_client.uploads.parts.create(up.id, data=data)
    assert list(emulator.store.uploads[up.id].parts) == [part.id]
    assert [r.fault for r in emulator.requests_to("POST /uploads/{id}/parts")] == [
        "drop:mid_upload",
        None,
    ]


def test_slow_answers_and_client_timeouts(emulator: Emulator, openai_client: openai.OpenAI) -> None:
    emulator.faults.add("GET /models", delay=0.3)
    started = time.perf_counter()
    openai_client.models.list()
    assert time.perf_counter() - started >= 0.3
    emulator.faults.add("GET /models", delay=1.0)
    with pytest.raises(openai.APITimeoutError):
        openai_client.with_options(timeout=0.2).models.list()
    assert emulator.requests[-1].fault == "slow"


def test_latency_applies_to_every_request(emulator: Emulator, openai_client: openai.OpenAI) -> None:
    emulator.config.latency = 0.1
    started = time.perf_counter()
    for _ in range(3):
        openai_client.models.list()
    assert time.perf_counter() - started >= 0.3
    assert all(r.duration >= 0.1 for r in emulator.requests)


def test_bandwidth_limits_each_request_body(
    emulator: Emulator, openai_client: openai.OpenAI
) -> None:
    emulator.config.bandwidth = 1_000_000
    up = openai_client.uploads.create(
        bytes=300_000, filename="a.jsonl", mime_type="text/jsonl", purpose="fine-tune"
    )
    started = time.perf_counter()
    openai_client.uploads.parts.create(up.id, data=b"x" * 300_000)
    assert time.perf_counter() - started >= 0.3


def test_faults_can_target_a_given_call_and_any_route(
    emulator: Emulator, openai_client: openai.OpenAI
) -> None:
    emulator.faults.add("GET /models", status=503, calls={2})
    openai_client.models.list()
    with pytest.raises(openai.InternalServerError):
        openai_client.models.list()
    openai_client.models.list()
    emulator.faults.add("*", status=500, times=None)
    for call in (openai_client.models.list, openai_client.files.list):
        with pytest.raises(openai.InternalServerError):
            call()
    emulator.faults.clear()
    assert openai_client.files.list().data == []


def test_request_log_hides_credentials(emulator: Emulator, openai_client: openai.OpenAI) -> None:
    openai_client.models.list()
    record = emulator.requests[-1]
    assert record.headers["authorization"] == "***"
    assert emulator.api_key not in repr(emulator.requests)
