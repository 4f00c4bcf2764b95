"""The local-provider base (``ftsdk.local``) with a runner of a few lines, as a third party
would write one: real job folders, real detached runner processes, no torch."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import ftsdk
from ftsdk import ProviderRegistry, TrainingRequest
from ftsdk.datarules import DataRules
from ftsdk.errors import InvalidDataset, InvalidRequest, ProviderUnavailable
from ftsdk.jobdir import JobDir, runner_env
from ftsdk.jobs import JobState, JobStatus
from ftsdk.local import LocalProvider, local_capabilities
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.local import cancel_stops_the_runner, job_home

RUNNER = """
import json, sys, time
from ftsdk.jobdir import JobDir, now_iso
job = JobDir(__import__("pathlib").Path(sys.argv[1]))
spec = job.read_spec()
if spec["seconds"] < 0:
    sys.exit(3)  # dies without a word: the base reports it failed
job.update_status(status="running", raw_status="running")
lines = (job.path / "train.jsonl").read_text().count("\\n")
job.add_event(f"read {lines} examples")
time.sleep(spec["seconds"])
job.add_metrics(1, {"train_loss": 0.5})
job.update_status(status="succeeded", raw_status="done", finished_at=now_iso())
"""


class LineCounter(LocalProvider):
    """Counts its examples, sleeps ``base_model`` seconds (how a test picks the length of a
    run; a negative one dies at once), succeeds."""

    name = "line-counter"
    job_prefix = "lcjob"
    capabilities = local_capabilities({"sft": frozenset({"epochs"})})
    data_rules = DataRules(formats={"sft": {ftsdk.DataFormat.CHAT}}, min_examples=2)

    def create_job(self, request: TrainingRequest) -> JobState:
        existing = self.existing_job(request)
        if existing is not None:
            return existing
        data = self.local_data(request, tokenizer=request.spec.base_model)
        job = self.new_job()
        shutil.copyfile(data.training, job.path / "train.jsonl")
        return self.launch(job, request, data, record={"seconds": float(request.spec.base_model)})

    def runner(self, job: JobDir, *, resume: bool) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, "-c", RUNNER, str(job.path)], runner_env(os.environ)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    with job_home(tmp_path / "home", "line-counter") as path:
        yield path


@pytest.fixture
def registry() -> ProviderRegistry:
    registry = ProviderRegistry()
    registry.register(LineCounter)
    return registry


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(3))


def _client(home: Path, registry: ProviderRegistry, **settings: object) -> ftsdk.Client:
    return ftsdk.client("line-counter", registry=registry, home=str(home), **settings)


def test_a_job_runs_detached_and_is_read_from_its_folder_anywhere(
    home: Path, registry: ProviderRegistry, data: Path
) -> None:
    with _client(home, registry) as client:
        job = client.train(base_model="0.5", training_data=data)
        assert job.id.startswith("lcjob-")
        job.wait(poll_interval=0.1, progress=False)
    again = _client(home, registry).job(job.id)  # as another process sees it
    assert again.status is JobStatus.SUCCEEDED
    assert [e.message for e in again.events()] == [
        "job created: sft on 0.5",
        "read 3 examples",
    ]
    assert [m.values for m in again.metrics()] == [{"train_loss": 0.5}]
    assert [j.id for j in _client(home, registry).jobs()] == [job.id]


def test_a_retried_create_makes_one_job(home: Path, registry: ProviderRegistry, data: Path) -> None:
    client = _client(home, registry)
    request = TrainingRequest(
        spec=ftsdk.JobSpec(base_model="0", training_data=data),
        training_file=client.upload(data),  # a local file: stays where it is
        options=LineCounter.Options(),
        idempotency_key="ftsdk-retried-once",
    )
    first = client.provider.create_job(request)
    assert client.provider.create_job(request).id == first.id
    assert len(list((home / "line-counter" / "jobs").glob("lcjob-*"))) == 1


def test_the_declared_rules_hold_even_when_the_core_skips_the_data_check(
    home: Path, registry: ProviderRegistry, tmp_path: Path
) -> None:
    one = write_jsonl(tmp_path / "one.jsonl", date_to_words_examples(1))
    with pytest.raises(InvalidDataset, match=r"1 example\(s\); line-counter needs at least 2"):
        _client(home, registry).train(base_model="0", training_data=one, check_data=False)
    assert not list((home / "line-counter" / "jobs").glob("lcjob-*"))  # no folder made


def test_a_runner_that_dies_makes_the_job_failed(
    home: Path, registry: ProviderRegistry, data: Path
) -> None:
    job = _client(home, registry).train(base_model="-1", training_data=data)
    deadline = time.monotonic() + 30
    while not job.refresh().status.is_terminal:
        assert time.monotonic() < deadline, "the dead runner was not noticed"
        time.sleep(0.1)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "process_died"
    assert "the runner ended without finishing" in job.error.message


def test_cancel_stops_the_runner_and_frees_a_place_under_the_limit(
    home: Path, registry: ProviderRegistry, data: Path
) -> None:
    client = _client(home, registry, max_running_jobs=1)
    first = client.train(base_model="60", training_data=data)
    with pytest.raises(InvalidRequest, match=r"already runs 1 job\(s\) on this machine") as caught:
        client.train(base_model="60", training_data=data)
    assert caught.value.code == "too_many_jobs"
    assert first.id in str(caught.value)
    assert "max_running_jobs=1" in str(caught.value)
    deadline = time.monotonic() + 30
    while JobDir(home / "line-counter" / "jobs" / first.id).process() is None:
        assert time.monotonic() < deadline, "the runner did not start"
        time.sleep(0.05)
    cancel_stops_the_runner(first, home / "line-counter" / "jobs")
    assert _client(home, registry).job(first.id).status is JobStatus.CANCELLED
    second = client.train(base_model="0", training_data=data)  # the cancelled one left
    assert second.wait(poll_interval=0.1, progress=False).status is JobStatus.SUCCEEDED


def test_a_limit_below_one_is_a_clear_error(home: Path, registry: ProviderRegistry) -> None:
    with pytest.raises(InvalidRequest, match="max_running_jobs: 0 would refuse every job"):
        _client(home, registry, max_running_jobs=0)


class UnreachableRunner(LineCounter):
    """Its runner runs somewhere that stops answering (a cluster's API): stopping it fails
    until ``reachable`` is set."""

    name = "unreachable-runner"
    reachable = False

    def stop_runner(self, job: JobDir) -> None:
        if not UnreachableRunner.reachable:
            raise ProviderUnavailable("the cluster did not answer", provider=self.name)
        super().stop_runner(job)


def test_a_cancel_that_cannot_reach_the_runner_leaves_the_job_running(
    tmp_path: Path, data: Path
) -> None:
    registry = ProviderRegistry()
    registry.register(UnreachableRunner)
    with job_home(tmp_path / "home", "unreachable-runner") as home:
        client = ftsdk.client(
            "unreachable-runner",
            registry=registry,
            home=str(home),
            retry=ftsdk.RetryPolicy(max_attempts=1),
        )
        job = client.train(base_model="60", training_data=data)
        deadline = time.monotonic() + 30
        while job.refresh().status is not JobStatus.RUNNING:
            assert time.monotonic() < deadline, job.status
            time.sleep(0.1)
        with pytest.raises(ProviderUnavailable, match="did not answer"):
            job.cancel()
        assert job.refresh().status is JobStatus.RUNNING  # it is: not shown cancelled
        assert job.events()[-1].message.startswith("cancel failed, the job goes on")
        UnreachableRunner.reachable = True
        try:
            assert job.cancel().status is JobStatus.CANCELLED
        finally:
            UnreachableRunner.reachable = False
        assert job.refresh().status is JobStatus.CANCELLED
