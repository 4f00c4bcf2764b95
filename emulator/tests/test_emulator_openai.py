"""The emulator behaves like OpenAI's fine-tuning API, driven by the real ``openai`` client."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk_emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"


def upload(client: openai.OpenAI, path: Path) -> str:
    with path.open("rb") as stream:
        return client.files.create(file=stream, purpose="fine-tune").id


def test_whole_lifecycle(
    emulator: Emulator, openai_client: openai.OpenAI, train_path: Path, tmp_path: Path
) -> None:
    valid = write_jsonl(tmp_path / "valid.jsonl", date_to_words_examples(10, seed=9))
    train_id, valid_id = upload(openai_client, train_path), upload(openai_client, valid)
    job = openai_client.fine_tuning.jobs.create(
        model=BASE,
        training_file=train_id,
        validation_file=valid_id,
        suffix="dates",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
        metadata={"team": "search"},
    )
    assert job.status == "validating_files"
    emulator.advance(2.5)
    assert openai_client.fine_tuning.jobs.retrieve(job.id).status == "queued"
    emulator.advance(2 + 0.5 * 5)
    running = openai_client.fine_tuning.jobs.retrieve(job.id)
    assert running.status == "running"
    assert running.estimated_finish is not None
    emulator.advance(3600)
    done = openai_client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded"
    assert done.fine_tuned_model is not None
    assert done.fine_tuned_model.startswith(f"ft:{BASE}:emulator-org:dates:")
    assert done.trained_tokens
    assert done.trained_tokens > 0
    events = list(openai_client.fine_tuning.jobs.list_events(job.id, limit=1000))
    steps = [e for e in events if e.type == "metrics"]
    total = done.hyperparameters.n_epochs * 24 // done.hyperparameters.batch_size
    assert len(steps) == total
    metrics = steps[0].data
    assert metrics is not None
    assert {"train_loss", "valid_loss", "train_mean_token_accuracy"} <= set(metrics)
    assert steps[0].data["train_loss"] < steps[-1].data["train_loss"]  # newest first
    checkpoints = openai_client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [total, total * 2 // 3, total // 3]
    trained = date_to_words_examples(24)[5]["messages"]
    question, truth = trained[1]["content"], trained[2]["content"]
    tuned = openai_client.chat.completions.create(
        model=done.fine_tuned_model, messages=[{"role": "user", "content": question}]
    )
    base = openai_client.chat.completions.create(
        model=BASE, messages=[{"role": "user", "content": question}]
    )
    assert tuned.choices[0].message.content == truth
    assert base.choices[0].message.content != truth
    assert tuned.usage is not None
    assert base.usage is not None
    assert tuned.usage.completion_tokens < base.usage.completion_tokens
    ckpt = openai_client.chat.completions.create(
        model=checkpoints[-1].fine_tuned_model_checkpoint,
        messages=[{"role": "user", "content": question}],
    )
    assert ckpt.choices[0].message.content == truth
    assert openai_client.models.delete(done.fine_tuned_model).deleted
    with pytest.raises(openai.NotFoundError):
        openai_client.models.retrieve(done.fine_tuned_model)
    with pytest.raises(openai.NotFoundError):
        openai_client.chat.completions.create(
            model=done.fine_tuned_model, messages=[{"role": "user", "content": question}]
        )


def test_paths_at_the_root_work_too(emulator: Emulator) -> None:
    root = openai.OpenAI(base_url=emulator.url, api_key=emulator.api_key, max_retries=0)
    assert BASE in [m.id for m in root.models.list()]


def test_files_validate_jsonl_with_line_numbers(
    emulator: Emulator, openai_client: openai.OpenAI, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    good = json.dumps(date_to_words_examples(1)[0])
    bad.write_text(f'{good}\n{good}\n{{"messages": [{{"role": "user", "content": "hi"}}]}}\n')
    f = openai_client.files.retrieve(upload(openai_client, bad))
    assert f.status == "error"
    assert f.status_details == (
        'Invalid file format. Line 3, key "messages": At least one '
        "message must be from the assistant."
    )
    broken = tmp_path / "broken.jsonl"
    broken.write_text(f"{good}\nnot json\n")
    details = openai_client.files.retrieve(upload(openai_client, broken)).status_details
    assert details is not None
    assert details.startswith("Invalid file format. Line 2: Invalid JSON")
    with pytest.raises(openai.BadRequestError, match="has errors") as caught:
        openai_client.fine_tuning.jobs.create(model=BASE, training_file=f.id)
    assert caught.value.body["param"] == "training_file"  # type: ignore[index]


def test_files_are_processed_after_a_delay(
    emulator: Emulator, openai_client: openai.OpenAI, train_path: Path
) -> None:
    emulator.config.file_processing_seconds = 5
    file_id = upload(openai_client, train_path)
    assert openai_client.files.retrieve(file_id).status == "uploaded"
    with pytest.raises(openai.BadRequestError, match="still being processed"):
        openai_client.fine_tuning.jobs.create(model=BASE, training_file=file_id)
    emulator.advance(5)
    assert openai_client.files.retrieve(file_id).status == "processed"
    assert openai_client.files.content(file_id).content == train_path.read_bytes()
    assert [f.id for f in openai_client.files.list()] == [file_id]
    assert openai_client.files.delete(file_id).deleted
    assert list(openai_client.files.list()) == []


def test_uploads_api_assembles_parts_in_the_given_order(
    emulator: Emulator, openai_client: openai.OpenAI, train_path: Path
) -> None:
    data = train_path.read_bytes()
    chunks = [data[i : i + 700] for i in range(0, len(data), 700)]
    up = openai_client.uploads.create(
        bytes=len(data), filename="train.jsonl", mime_type="application/jsonl", purpose="fine-tune"
    )
    assert up.status == "pending"
    assert up.expires_at - up.created_at == 3600
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(lambda c: openai_client.uploads.parts.create(up.id, data=c), chunks))
    done = openai_client.uploads.complete(up.id, part_ids=[p.id for p in parts])
    assert done.status == "completed"
    assert done.file is not None
    assert openai_client.files.content(done.file.id).content == data
    with pytest.raises(openai.BadRequestError, match="completed"):
        openai_client.uploads.parts.create(up.id, data=b"more")


def test_uploads_check_size_cancel_and_expire(
    emulator: Emulator, openai_client: openai.OpenAI
) -> None:
    up = openai_client.uploads.create(
        bytes=10, filename="a.jsonl", mime_type="text/jsonl", purpose="fine-tune"
    )
    part = openai_client.uploads.parts.create(up.id, data=b"12345")
    with pytest.raises(openai.BadRequestError, match="add up to 5 bytes"):
        openai_client.uploads.complete(up.id, part_ids=[part.id])
    assert openai_client.uploads.cancel(up.id).status == "cancelled"
    late = openai_client.uploads.create(
        bytes=5, filename="b.jsonl", mime_type="text/jsonl", purpose="fine-tune"
    )
    emulator.advance(3601)
    with pytest.raises(openai.BadRequestError, match="expired"):
        openai_client.uploads.parts.create(late.id, data=b"12345")


def test_job_list_pages_and_filters_by_metadata(
    emulator: Emulator, openai_client: openai.OpenAI, train_path: Path
) -> None:
    file_id = upload(openai_client, train_path)
    ids = [
        openai_client.fine_tuning.jobs.create(
            model=BASE, training_file=file_id, metadata={"n": str(i % 2)}
        ).id
        for i in range(5)
    ]
    first = openai_client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in first.data] == ids[::-1][:2]
    assert first.has_more
    assert [j.id for j in openai_client.fine_tuning.jobs.list(limit=10)] == ids[::-1]
    second = openai_client.fine_tuning.jobs.list(limit=2, after=first.data[-1].id)
    assert [j.id for j in second.data] == ids[::-1][2:4]
    odd = openai_client.fine_tuning.jobs.list(metadata={"n": "1"})
    assert [j.id for j in odd.data] == [ids[3], ids[1]]


def test_events_page_newest_first(
    emulator: Emulator, openai_client: openai.OpenAI, train_path: Path
) -> None:
    job = openai_client.fine_tuning.jobs.create(
        model=BASE, training_file=upload(openai_client, train_path)
    )
    emulator.advance(3600)
    everything = openai_client.fine_tuning.jobs.list_events(job.id, limit=1000).data
    page = openai_client.fine_tuning.jobs.list_events(job.id, limit=3)
    assert [e.id for e in page.data] == [e.id for e in everything[:3]]
    after = openai_client.fine_tuning.jobs.list_events(job.id, limit=3, after=page.data[-1].id)
    assert [e.id for e in after.data] == [e.id for e in everything[3:6]]
    assert everything[-1].message == f"Created fine-tuning job: {job.id}"
    created = [e.created_at for e in everything]
    assert created == sorted(created, reverse=True)


def test_pause_resume_and_cancel(
    emulator: Emulator, openai_client: openai.OpenAI, train_path: Path
) -> None:
    jobs = openai_client.fine_tuning.jobs
    job = jobs.create(model=BASE, training_file=upload(openai_client, train_path))
    with pytest.raises(openai.BadRequestError, match="Cannot pause a job that is"):
        jobs.pause(job.id)
    emulator.advance(4 + 0.5 * 3)
    assert jobs.pause(job.id).status == "paused"
    steps_before = len([e for e in jobs.list_events(job.id, limit=1000) if e.type == "metrics"])
    emulator.advance(1000)
    assert jobs.retrieve(job.id).status == "paused"
    steps_after = len([e for e in jobs.list_events(job.id, limit=1000) if e.type == "metrics"])
    assert steps_after == steps_before == 3
    assert jobs.resume(job.id).status == "running"
    emulator.advance(1)
    assert len([e for e in jobs.list_events(job.id, limit=1000) if e.type == "metrics"]) == 5
    assert jobs.cancel(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        jobs.resume(job.id)


def test_dpo_jobs_and_models_that_cannot_train(
    emulator: Emulator, openai_client: openai.OpenAI, tmp_path: Path
) -> None:
    rows = [
        {
            "input": {"messages": [{"role": "user", "content": f"q{i}"}]},
            "preferred_output": [{"role": "assistant", "content": f"good {i}"}],
            "non_preferred_output": [{"role": "assistant", "content": f"bad {i}"}],
        }
        for i in range(12)
    ]
    file_id = upload(openai_client, write_jsonl(tmp_path / "dpo.jsonl", rows))
    job = openai_client.fine_tuning.jobs.create(
        model=BASE,
        training_file=file_id,
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}},
    )
    assert job.method is not None
    assert job.method.type == "dpo"
    emulator.advance(3600)
    model = openai_client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    assert model is not None
    answer = openai_client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "q7"}]
    )
    assert answer.choices[0].message.content == "good 7"
    with pytest.raises(openai.BadRequestError, match="does not support DPO"):
        openai_client.fine_tuning.jobs.create(
            model="gpt-3.5-turbo-0125", training_file=file_id, method={"type": "dpo"}
        )
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.fine_tuning.jobs.create(model="gpt-4", training_file=file_id)
    assert caught.value.code == "model_not_available"


def test_failure_modes(
    emulator: Emulator, openai_client: openai.OpenAI, tmp_path: Path, train_path: Path
) -> None:
    few = upload(openai_client, write_jsonl(tmp_path / "few.jsonl", date_to_words_examples(3)))
    job = openai_client.fine_tuning.jobs.create(model=BASE, training_file=few)
    emulator.advance(10)
    failed = openai_client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "invalid_training_file"
    assert "Training file has 3 example(s), but must have at least 10 examples" in (
        failed.error.message
    )
    emulator.fail_next_job("Out of GPUs, sorry.", code="server_error", at_step=2)
    job = openai_client.fine_tuning.jobs.create(
        model=BASE, training_file=upload(openai_client, train_path)
    )
    emulator.advance(3600)
    failed = openai_client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.message == "Out of GPUs, sorry."
    assert failed.fine_tuned_model is None


def test_wind_down_refuses_training_but_not_inference(
    emulator: Emulator, openai_client: openai.OpenAI, train_path: Path
) -> None:
    file_id = upload(openai_client, train_path)
    emulator.wind_down()
    with pytest.raises(openai.PermissionDeniedError) as caught:
        openai_client.fine_tuning.jobs.create(model=BASE, training_file=file_id)
    assert caught.value.code == "training_not_available"
    assert caught.value.status_code == 403
    answer = openai_client.chat.completions.create(
        model=BASE, messages=[{"role": "user", "content": "hello"}]
    )
    assert answer.choices[0].message.content


def test_wrong_key_gets_openais_401(emulator: Emulator) -> None:
    client = openai.OpenAI(
        base_url=emulator.openai_base_url, api_key="sk-not-the-right-key", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["code"] == "invalid_api_key"
    assert body["message"].startswith("Incorrect API key provided: sk-")
    assert "not-the-right" not in body["message"]
