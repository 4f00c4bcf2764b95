"""Job handles: wait, incremental events, failure reasons, re-attaching by id."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import ftsdk
from ftsdk import JobStatus
from ftsdk.errors import JobFailed, NotFound, Timeout


def no_sleep(_: float) -> None:
    return None


def test_wait_walks_every_status_to_the_model(
    client: ftsdk.Client, train_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job = client.train(base_model="tiny", training_data=train_file)
    with caplog.at_level(logging.INFO, logger="ftsdk.jobs"):
        assert job.wait(sleep=no_sleep) is job
    assert job.status == JobStatus.SUCCEEDED
    assert job.raw_status == "succeeded"
    seen = [r.getMessage() for r in caplog.records]
    assert seen == [
        f"job {job.id} is {s} ({r})"
        for s, r in (("queued", "queued"), ("running", "running"), ("succeeded", "succeeded"))
    ]
    assert job.model is not None
    assert job.model.chat("hi").content == f"tiny:ft-{job.id} heard: hi"


def test_wait_polls_with_growing_intervals(client: ftsdk.Client, train_file: Path) -> None:
    job = client.train(base_model="tiny", training_data=train_file)
    slept: list[float] = []
    job.wait(sleep=slept.append, poll_interval=1.0, max_poll_interval=2.0)
    assert slept == [1.0, 1.5]


def test_failed_job_raises_with_the_providers_reason(
    client: ftsdk.Client, train_file: Path
) -> None:
    client.provider.script = [
        (JobStatus.VALIDATING, "validating_files"),
        (JobStatus.FAILED, "failed"),
    ]
    job = client.train(base_model="tiny", training_data=train_file)
    with pytest.raises(JobFailed) as caught:
        job.wait(sleep=no_sleep)
    assert caught.value.reason == "training file has 3 examples; needs 10"
    assert caught.value.job is job
    assert caught.value.code == "invalid_training_file"
    assert job.error is not None
    assert job.error.param == "training_file"
    assert job.model is None


def test_wait_without_raising_returns_the_failed_job(
    client: ftsdk.Client, train_file: Path
) -> None:
    client.provider.script = [(JobStatus.FAILED, "failed")]
    job = client.train(base_model="tiny", training_data=train_file)
    assert job.wait(sleep=no_sleep, raise_on_failure=False).status == JobStatus.FAILED


def test_wait_times_out(client: ftsdk.Client, train_file: Path) -> None:
    client.provider.script = [(JobStatus.RUNNING, "running")]
    job = client.train(base_model="tiny", training_data=train_file)
    with pytest.raises(Timeout, match=f"job {job.id} still running after 0.01s"):
        job.wait(timeout=0.01, poll_interval=0.05, sleep=no_sleep)


def test_paused_is_not_terminal(client: ftsdk.Client, train_file: Path) -> None:
    client.provider.script = [
        (JobStatus.PAUSED, "paused"),
        (JobStatus.RUNNING, "running"),
        (JobStatus.SUCCEEDED, "succeeded"),
    ]
    job = client.train(base_model="tiny", training_data=train_file)
    assert job.wait(sleep=no_sleep).status == JobStatus.SUCCEEDED


def test_events_are_incremental_and_chronological(client: ftsdk.Client, train_file: Path) -> None:
    job = client.train(base_model="tiny", training_data=train_file)
    job.refresh()
    job.refresh()
    first = job.events()
    assert [e.id for e in first] == ["ev-0", "ev-1"]
    assert job.events() == []
    job.refresh()
    assert [e.id for e in job.events()] == ["ev-2"]
    assert [e.step for e in job.events(all=True)] == [0, 1, 2]
    assert first[1].metrics == {"train_loss": 1.0}


def test_wait_does_not_swallow_events(client: ftsdk.Client, train_file: Path) -> None:
    job = client.train(base_model="tiny", training_data=train_file)
    seen: list[str] = []
    job.wait(sleep=no_sleep, on_event=lambda event: seen.append(event.id))
    assert seen == ["ev-0", "ev-1", "ev-2"]  # each handed over once, as it arrived
    assert [e.id for e in job.events()] == ["ev-0", "ev-1", "ev-2"]


def test_reattach_by_id(client: ftsdk.Client, train_file: Path) -> None:
    job = client.train(base_model="tiny", training_data=train_file)
    again = client.job(job.id)
    assert again.id == job.id
    assert again.state.base_model == "tiny"
    with pytest.raises(NotFound, match="no job job-404"):
        client.job("job-404")


def test_cancel_and_list(client: ftsdk.Client, train_file: Path) -> None:
    first = client.train(base_model="tiny", training_data=train_file)
    second = client.train(base_model="tiny", training_data=train_file)
    assert first.cancel().status == JobStatus.CANCELLED
    assert [j.id for j in client.jobs()] == [second.id, first.id]
    assert repr(first) == f"<Job {first.id} provider=memory status=cancelled>"


def test_secrets_are_scrubbed_from_errors_and_logs(
    client: ftsdk.Client, train_file: Path, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    client.provider.failures = [
        ftsdk.errors.RateLimited(f"slow down, key {secret}"),
        ftsdk.errors.AuthenticationError(f"Incorrect API key provided: {secret}."),
    ]
    with caplog.at_level(logging.DEBUG), pytest.raises(ftsdk.errors.AuthenticationError) as caught:
        client.upload(train_file)
    assert "slow down, key ***" in caplog.text
    assert secret not in caplog.text
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)
    assert "Incorrect API key provided: ***." in str(caught.value)


def test_secrets_never_in_reprs(client: ftsdk.Client, secret: str) -> None:
    shown = repr(client) + repr(client.provider) + repr(vars(client.provider))
    assert secret not in shown


def test_the_progress_bar_takes_the_total_from_the_state_or_the_events() -> None:
    from datetime import UTC, datetime

    from ftsdk.jobs import JobEvent, JobState, _Watch

    state = JobState(id="j", provider="p", status=JobStatus.RUNNING, raw_status="running")
    now = datetime.now(UTC)
    events = [
        JobEvent(id="1", created_at=now, message="m", step=3, total_steps=120),
        JobEvent(id="2", created_at=now, message="m", step=4, metrics={"train_loss": 0.5}),
    ]
    watch = _Watch("p j", timeout=None, poll_interval=1, max_poll_interval=1, progress=True)
    try:
        assert watch.show(state, events) is False
        assert (watch.bar.n, watch.bar.total) == (4, 120)
        assert watch.bar.postfix is not None
        assert "loss=0.5000" in watch.bar.postfix
        assert watch.show(state.model_copy(update={"total_steps": 200}), events) is False
        assert watch.bar.total == 200  # the provider's state wins
    finally:
        watch.close()
