"""Writes retried by the core behave as the user meant: a delete whose answer was lost is
still a success, and a 429 on one upload part slows every part."""

from __future__ import annotations

from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import NotFound, TrainingNotAvailable
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"


def fine_tuned(client: ftsdk.Client, emulator: Emulator, train_path: Path) -> ftsdk.Model:
    job = client.train(base_model=BASE, training_data=train_path)
    job.wait(poll_interval=0.01, sleep=lambda _: emulator.advance(60))
    assert job.model is not None
    return job.model


def test_a_delete_whose_answer_was_lost_is_a_success(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    model = fine_tuned(client, emulator, train_path)
    emulator.faults.add("DELETE /models/{model}", drop="after")
    model.delete()  # deleted by the first attempt; the retry finds it already gone
    assert model.id not in emulator.store.models
    assert [r.fault for r in emulator.requests_to("DELETE /models/{model}")] == [
        "drop:after",
        None,
    ]


def test_deleting_a_model_that_never_existed_is_still_not_found(
    client: ftsdk.Client, emulator: Emulator
) -> None:
    with pytest.raises(NotFound):
        client.model(f"ft:{BASE}:emulator-org::nosuch").delete()
    emulator.faults.add("DELETE /models/{model}", status=500)
    with pytest.raises(NotFound):  # a failure with no effect, then the truth: not found
        client.model(f"ft:{BASE}:emulator-org::nosuch").delete()


def test_a_429_on_one_part_holds_back_the_other_parts(emulator: Emulator, tmp_path: Path) -> None:
    """Parts wait out a 429's ``Retry-After`` together: within that time, at most the one
    part already on its way when the 429 came reaches the service (read from the emulator's
    log; a slow machine only spreads the parts further apart)."""
    wait = 1.0
    big = write_jsonl(tmp_path / "big.jsonl", date_to_words_examples(200))
    policy = ftsdk.RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05)
    emulator.faults.add("POST /uploads/{upload_id}/parts", status=429, retry_after=wait)
    with ftsdk.client(
        "openai",
        api_key=emulator.api_key,
        base_url=emulator.openai_base_url,
        home=tmp_path / "home",
        retry=policy,
        upload_threshold=1024,
        upload_part_size=4096,
        upload_concurrency=2,
    ) as client:
        ref = client.upload(big)
    assert ref.bytes == big.stat().st_size
    parts = emulator.requests_to("POST /uploads/{upload_id}/parts")
    assert len(parts) >= 5
    [limited] = [r for r in parts if r.status == 429]
    answered = limited.started + limited.duration
    too_soon = [r for r in parts if answered < r.started < answered + wait * 0.9]
    assert len(too_soon) <= 1, [round(r.started - answered, 3) for r in parts]


def test_the_wind_down_error_says_what_to_change(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    """A local provider cannot train ``gpt-4o-mini``: the message must not say the same
    JobSpec runs unchanged there, and must say what to change."""
    emulator.wind_down()
    with pytest.raises(TrainingNotAvailable) as caught:
        client.train(base_model=BASE, training_data=train_path)
    message = str(caught.value)
    assert "runs unchanged" not in message
    assert "base_model" in message
    assert "Hugging Face Hub model id" in message
    assert "2027-01-06" in message
