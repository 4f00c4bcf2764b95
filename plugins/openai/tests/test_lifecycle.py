"""The whole OpenAI lifecycle through ftsdk, over real HTTP against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

import ftsdk
from ftsdk import SFT, JobStatus
from ftsdk.errors import (
    AuthenticationError,
    InvalidRequest,
    JobFailed,
    NotFound,
    TrainingNotAvailable,
)
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"


def test_fine_tune_watch_chat_and_delete(
    client: ftsdk.Client, emulator: Emulator, train_path: Path, valid_path: Path
) -> None:
    job = client.train(
        base_model=BASE,
        training_data=train_path,
        validation_data=valid_path,
        method=SFT(epochs=2),
        suffix="dates",
        seed=7,
        metadata={"team": "search"},
    )
    assert job.status == JobStatus.VALIDATING
    assert job.raw_status == "validating_files"
    job.wait(poll_interval=0.02)
    assert job.status == JobStatus.SUCCEEDED
    assert job.state.metadata == {"team": "search"}
    events = job.events()
    assert events[0].message == f"Created fine-tuning job: {job.id}"
    assert events[-1].message == "The job has successfully completed"
    losses = [e.metrics["train_loss"] for e in events if e.type == "metrics"]
    assert len(losses) == 2 * 30 // job_batch(emulator)
    assert losses[-1] < losses[0]
    assert {"train_loss", "valid_loss", "train_accuracy", "valid_accuracy"} <= set(
        next(e for e in events if e.type == "metrics").metrics
    )
    # OpenAI says the run's length in its metrics events only: the progress bar's total.
    assert {e.total_steps for e in events if e.type == "metrics"} == {len(losses)}
    metrics = job.metrics()
    assert [m.step for m in metrics] == list(range(1, len(losses) + 1))
    checkpoints = job.checkpoints()
    assert checkpoints[-1].step == len(losses)
    model = job.model
    assert model is not None
    assert model.id.startswith(f"ft:{BASE}:emulator-org:dates:")
    question = date_to_words_examples(30)[4]["messages"]
    tuned = model.chat(question[1]["content"])
    base = client.model(BASE).chat(question[1]["content"])
    assert tuned.content == question[2]["content"]
    assert base.content != question[2]["content"]
    assert tuned.usage.total_tokens < base.usage.total_tokens
    assert client.model(checkpoints[0].model).chat(question[1]["content"]).content
    model.delete()
    with pytest.raises(NotFound):
        model.chat("hello")
    # strict mode checked every request against OpenAI's API description: none refused
    assert [r for r in emulator.requests if r.status == 400] == []
    assert emulator.config.strict


def job_batch(emulator: Emulator) -> int:
    return int(emulator.jobs[-1].hyperparameters["batch_size"])


def test_dpo(client: ftsdk.Client, tmp_path: Path) -> None:
    rows = [
        {
            "input": {"messages": [{"role": "user", "content": f"q{i}"}]},
            "preferred_output": [{"role": "assistant", "content": f"good {i}"}],
            "non_preferred_output": [{"role": "assistant", "content": f"bad {i}"}],
        }
        for i in range(12)
    ]
    job = client.train(
        base_model=BASE,
        training_data=write_jsonl(tmp_path / "p.jsonl", rows),
        method=ftsdk.DPO(beta=0.2, epochs=1),
    )
    model = job.wait(poll_interval=0.02).model
    assert model is not None
    assert model.chat("q3").content == "good 3"


def test_the_same_data_is_uploaded_once(
    client: ftsdk.Client, emulator: Emulator, train_path: Path, tmp_path: Path
) -> None:
    first = client.upload(train_path)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(train_path.read_bytes())
    assert client.upload(copy).id == first.id
    assert len(emulator.files) == 1
    assert first.filename is not None
    assert first.filename.startswith("train.ftsdk-")


def test_large_files_go_through_the_uploads_api(
    emulator: Emulator, train_path: Path, tmp_path: Path
) -> None:
    with ftsdk.client(
        "openai",
        api_key=emulator.api_key,
        base_url=emulator.openai_base_url,
        home=tmp_path / "home",
        upload_threshold=1024,
        upload_part_size=1024,
        upload_concurrency=4,
    ) as c:
        ref = c.upload(train_path)
    parts = emulator.requests_to("POST /uploads/{upload_id}/parts")
    assert len(parts) == -(-train_path.stat().st_size // 1024)
    assert emulator.files[0].content == train_path.read_bytes()
    assert ref.id == emulator.files[0].id


def test_an_interrupted_upload_resumes_where_it_stopped(
    emulator: Emulator, train_path: Path, tmp_path: Path
) -> None:
    settings = {
        "api_key": emulator.api_key,
        "base_url": emulator.openai_base_url,
        "home": tmp_path / "home",
        "upload_threshold": 1024,
        "upload_part_size": 1024,
        "upload_concurrency": 1,
    }
    total = -(-train_path.stat().st_size // 1024)
    emulator.faults.add("POST /uploads/{upload_id}/parts", drop="mid_upload", calls={3}, times=None)
    emulator.faults.add("POST /uploads/{upload_id}/parts", status=503, times=None)
    once = ftsdk.RetryPolicy(max_attempts=1)
    with (
        ftsdk.client("openai", retry=once, **settings) as c,
        pytest.raises(ftsdk.errors.ProviderUnavailable),
    ):
        c.upload(train_path)
    emulator.faults.clear()
    with ftsdk.client("openai", **settings) as c:
        ref = c.upload(train_path)
    sent = [r for r in emulator.requests_to("POST /uploads/{upload_id}/parts") if not r.fault]
    assert len(sent) == total
    assert len(emulator.requests_to("POST /uploads")) == 1  # the same upload, resumed
    assert emulator.store.files[ref.id].content == train_path.read_bytes()


def test_a_bad_file_is_caught_before_upload(
    client: ftsdk.Client, emulator: Emulator, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"hi {i}"}]} for i in range(12)]
    write_jsonl(bad, rows)
    with pytest.raises(ftsdk.errors.InvalidDataset) as caught:
        client.train(base_model=BASE, training_data=bad)
    assert "bad.jsonl:1: messages: no assistant message" in str(caught.value)
    assert len(caught.value.problems) == 12
    assert emulator.requests == []


def test_a_bad_file_fails_with_openais_message(client: ftsdk.Client, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n' * 12)
    with pytest.raises(ftsdk.errors.InvalidDataset) as caught:
        client.train(base_model=BASE, training_data=bad, check_data=False)
    assert 'Line 1, key "messages": At least one message must be from the assistant.' in str(
        caught.value
    )


def test_a_failed_job_raises_the_providers_reason(client: ftsdk.Client, tmp_path: Path) -> None:
    few = write_jsonl(tmp_path / "few.jsonl", date_to_words_examples(4))
    job = client.train(base_model=BASE, training_data=few, check_data=False)
    with pytest.raises(JobFailed) as caught:
        job.wait(poll_interval=0.02)
    assert caught.value.reason == (
        "The job failed due to an invalid training file. Training "
        "file has 4 example(s), but must have at least 10 examples"
    )
    assert caught.value.code == "invalid_training_file"


def test_pause_resume_cancel_and_reattach(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    emulator.clock.speed = 0
    job = client.train(base_model=BASE, training_data=train_path)
    emulator.advance(6)
    assert job.pause().status == JobStatus.PAUSED
    other = ftsdk.client("openai", api_key=emulator.api_key, base_url=emulator.openai_base_url).job(
        job.id
    )
    assert other.status == JobStatus.PAUSED
    assert other.resume().status == JobStatus.RUNNING
    assert job.cancel().status == JobStatus.CANCELLED
    assert [j.id for j in client.jobs(limit=5)] == [job.id]


def test_wind_down_names_the_alternatives(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    emulator.wind_down()
    with pytest.raises(TrainingNotAvailable) as caught:
        client.train(base_model=BASE, training_data=train_path)
    err = caught.value
    assert err.code == "training_not_available"
    assert "self-serve fine-tuning is being wound down" in str(err)
    assert err.__cause__ is not None
    assert client.model(BASE).chat("still answering?").content  # inference goes on


def test_errors_are_translated_with_their_field(client: ftsdk.Client, train_path: Path) -> None:
    with pytest.raises(InvalidRequest) as caught:
        client.train(base_model="gpt-4", training_data=train_path)
    assert caught.value.field == "model"
    assert caught.value.code == "model_not_available"
    assert caught.value.status_code == 400


def test_a_wrong_key_never_shows_the_key(emulator: Emulator) -> None:
    key = "sk-this-is-a-wrong-key-123456"
    c = ftsdk.client("openai", api_key=key, base_url=emulator.openai_base_url)
    with pytest.raises(AuthenticationError) as caught:
        c.model(BASE).chat("hi")
    assert key not in str(caught.value)
    assert caught.value.code == "invalid_api_key"


def test_unaccepted_hyperparameter_fails_before_any_request(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    with pytest.raises(InvalidRequest, match=r"method\.learning_rate"):
        client.train(base_model=BASE, training_data=train_path, method=SFT(learning_rate=1e-4))
    assert emulator.requests == []


def test_the_minimum_of_examples_is_a_rule_of_the_training_file_only(
    client: ftsdk.Client, emulator: Emulator, tmp_path: Path
) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(12))
    valid = write_jsonl(tmp_path / "valid.jsonl", date_to_words_examples(3, seed=1))
    job = client.train(base_model=BASE, training_data=train, validation_data=valid)
    assert job.wait(poll_interval=0.02).status is JobStatus.SUCCEEDED
    with pytest.raises(ftsdk.errors.InvalidDataset, match="needs at least 10"):
        client.train(base_model=BASE, training_data=valid)
    assert len(emulator.jobs) == 1
