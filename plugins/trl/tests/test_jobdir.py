"""The TRL provider over its job folders (the folder itself is tested in the core's
tests/test_jobdir.py): a dead runner seen by any client, events by id, ids and paths that
never leave the job's folder, damaged folders reported as such."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import ftsdk
from ftsdk.cli import main
from ftsdk.errors import ConfigurationError, InvalidRequest, JobFailed, NotFound
from ftsdk.jobdir import DamagedJob, JobDir, write_json_atomic
from ftsdk.jobs import JobStatus
from ftsdk.models import ModelInfo
from ftsdk.testing.data import date_to_words_examples
from ftsdk.testing.local import date_files


def home(path: Path) -> str:
    """The ``--set`` that points the CLI's provider at ``path``."""
    return f"home={path}"


def folder(home: Path, name: str = "trljob-20260101000000-abcdef01") -> JobDir:
    job = JobDir(home / "trl" / "jobs" / name)
    job.path.mkdir(parents=True)
    return job


def test_a_dead_runner_is_reported_failed_with_its_log(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.update_status(status="running", raw_status="training", created_at="2026-01-01T00:00:00Z")
    write_json_atomic(job.process_file, {"pid": 2**22 + 12345, "create_time": 1.0})
    job.log_file.write_text("Traceback ...\nRuntimeError: CUDA out of memory\n")
    state = ftsdk.client("trl", home=str(tmp_path)).job(job.id).state
    assert state.status is JobStatus.FAILED
    assert state.raw_status == "process_died"
    assert state.error is not None
    assert "CUDA out of memory" in state.error.message
    assert job.read_status()["status"] == "failed"  # written back: every reader agrees


# -- ids and paths: nothing outside the job's folder ------------------------------------
NOT_IDS = [
    "",
    ".",
    "..",
    "trljob-" + "a" * 300,  # longer than a file name may be
    "trljob-20260101000000-abcdef01/../../../decoy",
    "../trl/jobs/trljob-20260101000000-abcdef01",
    "trljob-20260101000000-abcdef01\x00",
    "/etc",
]


@pytest.mark.parametrize("job_id", NOT_IDS, ids=range(len(NOT_IDS)))
def test_an_id_that_is_no_trl_id_is_not_found_by_every_operation(
    tmp_path: Path, job_id: str
) -> None:
    folder(tmp_path).update_status(status="succeeded")  # a real job beside it
    client = ftsdk.client("trl", home=str(tmp_path))
    calls = {
        "job": lambda: client.job(job_id),
        "events": lambda: client.provider.list_events(job_id, after=None),
        "metrics": lambda: client.provider.list_metrics(job_id),
        "checkpoints": lambda: client.provider.list_checkpoints(job_id),
        "cancel": lambda: client.provider.cancel_job(job_id),
        "resume": lambda: client.provider.resume_job(job_id),
    }
    for name, call in calls.items():
        with pytest.raises(NotFound, match="no trl job") as caught:
            call()
        assert repr(job_id[:20]).rstrip("'") in str(caught.value), name  # names the id


def test_a_model_id_too_long_for_a_file_name_is_a_clear_error(tmp_path: Path) -> None:
    client = ftsdk.client("trl", home=str(tmp_path))
    with pytest.raises(InvalidRequest, match="neither a local model folder"):
        client.model("m" * 300).chat("hi")
    with pytest.raises(NotFound, match="no trl job"):
        client.model("trljob-" + "a" * 300).chat("hi")


def fake_model(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    return path


def test_a_checkpoint_id_resolves_inside_its_job_folder_or_is_refused(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.update_status(status="succeeded", result_model=str(job.model_dir))
    fake_model(job.checkpoints_dir / "checkpoint-10")
    (job.checkpoints_dir / "checkpoint-10" / "trainer_state.json").write_text("{}")
    decoy = fake_model(tmp_path / "decoy" / "model")
    (job.checkpoints_dir / "checkpoint-20").symlink_to(decoy)  # a link out of the job
    (decoy / "trainer_state.json").write_text("{}")
    provider = ftsdk.client("trl", home=str(tmp_path)).provider

    def path_of(model_id: str) -> Path:
        return provider._model_path(ModelInfo(id=model_id, provider="trl"))

    assert path_of(f"{job.id}:checkpoint-10") == job.checkpoints_dir / "checkpoint-10"
    for name in [
        "../../decoy/model",
        "../../../../decoy/model",
        "checkpoint-10/../../../../decoy/model",
        "checkpoint-20",
        str(decoy),
        "checkpoint-99",
    ]:
        with pytest.raises(NotFound, match=f"job {job.id} has no checkpoint"):
            path_of(f"{job.id}:{name}")


def test_a_result_model_outside_the_job_folder_is_not_served(tmp_path: Path) -> None:
    job = folder(tmp_path)
    decoy = fake_model(tmp_path / "decoy" / "model")
    job.update_status(status="succeeded", result_model=str(decoy))
    client = ftsdk.client("trl", home=str(tmp_path))

    found = client.job(job.id)

    assert found.model is None
    assert found.error is not None
    assert found.error.code == "damaged_job"
    assert "outside its folder" in found.error.message
    with pytest.raises(DamagedJob, match="outside its folder"):
        client.model(job.id).chat("hi")
    result = CliRunner().invoke(
        main, ["serve", "--job", job.id, "-p", "trl", "--set", home(tmp_path)]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output


# -- damaged job folders --------------------------------------------------------------
DAMAGED_STATUS = {
    "a list": b"[1, 2]",
    "truncated": b'{"status": "runn',
    "empty": b"",
    "binary": bytes(range(256)),
    "bad UTF-8": b'{"status": "\xff\xfe"}',
    "a status that is a number": b'{"status": 5}',
    "an error that is a string": b'{"status": "failed", "error": "boom"}',
    "a step that is a word": b'{"status": "running", "step": "five"}',
    "a date that is no date": b'{"status": "succeeded", "created_at": "yesterday"}',
    "metadata that is a list": b'{"status": "succeeded", "metadata": [1]}',
    "an unknown status word": b'{"status": "exploded"}',
}


@pytest.mark.parametrize("content", DAMAGED_STATUS.values(), ids=DAMAGED_STATUS.keys())
def test_a_damaged_status_is_reported_damaged_and_the_others_listed(
    tmp_path: Path, content: bytes
) -> None:
    good = folder(tmp_path, "trljob-20260101000000-00000001")
    good.update_status(status="succeeded", created_at="2026-01-01T00:00:00+00:00")
    bad = folder(tmp_path, "trljob-20260102000000-00000002")
    bad.status_file.write_bytes(content)
    client = ftsdk.client("trl", home=str(tmp_path))

    listed = {job.id: job for job in client.jobs()}

    assert listed[good.id].status is JobStatus.SUCCEEDED
    damaged = listed[bad.id]
    assert (damaged.status, damaged.raw_status) == (JobStatus.FAILED, "damaged")
    assert damaged.error is not None
    assert damaged.error.code == "damaged_job"
    assert f"job {bad.id} is damaged: status.json" in damaged.error.message
    assert str(bad.status_file) in damaged.error.message
    assert damaged.state.created_at is not None  # from its id: listed in its place
    job = client.job(bad.id)
    with pytest.raises(JobFailed, match=r"damaged: status\.json"):
        job.wait(progress=False)
    with pytest.raises(InvalidRequest, match=r"damaged: status\.json"):
        job.resume()
    assert bad.status_file.read_bytes() == content  # left for a person to look at
    shown = CliRunner().invoke(main, ["jobs", "list", "-p", "trl", "--set", home(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert f"{bad.id}  failed     (damaged)  job {bad.id} is damaged" in shown.output
    assert f"{good.id}  succeeded" in shown.output


def test_damaged_event_and_metric_lines_are_said_and_the_rest_read(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.update_status(status="succeeded")
    job.add_event("first")
    with job.events_file.open("ab") as events:
        events.write(b'{"message": "bad \xff utf-8", "created_at": "2026-01-01T00:00:00Z"}\n')
        events.write(b'{"message": "no time"}\n')
        events.write(b"[1, 2]\n")
        events.write(b'{"message": "bad level", "level": 3, "created_at": "2026-01-01"}\n')
    job.add_event("last")
    job.add_metrics(1, {"train_loss": 2.0})
    with job.metrics_file.open("ab") as metrics:
        metrics.write(b'{"step": "two", "values": {}}\n{"values": {"x": 1}}\n\xff\xfe\n')
        metrics.write(b'{"step": 3, "values": {"train_loss": "low"}}\n[]\n')
    job.add_metrics(4, {"train_loss": 1.0})
    client = ftsdk.client("trl", home=str(tmp_path))
    handle = client.job(job.id)

    events = handle.events()

    assert events[0].message == "first"
    assert events[-1].message == "last"
    damaged = events[1:-1]
    assert len(damaged) == 4
    assert all(e.level == "error" for e in damaged)
    assert all(f"of {job.events_file} is damaged" in e.message for e in damaged)
    assert [e.id for e in events] == ["1", "2", "3", "4", "5", "6"]  # ids stay line numbers
    assert [(m.step, m.values) for m in handle.metrics()] == [
        (1, {"train_loss": 2.0}),
        (4, {"train_loss": 1.0}),
    ]
    handle.wait(progress=False)  # events and all


def test_resuming_with_a_truncated_spec_is_a_clear_error(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.update_status(status="paused", raw_status="paused")
    job.spec_file.write_text('{"model_path": "/m", "meth')
    client = ftsdk.client("trl", home=str(tmp_path))
    with pytest.raises(DamagedJob, match=f"job {job.id} is damaged: spec.json is not JSON"):
        client.job(job.id).resume()
    assert job.read_status()["status"] == "paused"  # nothing changed, no runner started
    assert not job.process_file.exists()


def test_a_job_that_cannot_resume_is_refused_at_once_not_retried(tmp_path: Path) -> None:
    job = folder(tmp_path)
    job.update_status(status="failed", raw_status="process_died")  # no checkpoint
    done = folder(tmp_path, "trljob-20260101000000-abcdef02")
    done.update_status(status="succeeded")
    client = ftsdk.client("trl", home=str(tmp_path))
    started = time.monotonic()
    with pytest.raises(InvalidRequest, match="failed before its first checkpoint"):
        client.job(job.id).resume()
    with pytest.raises(InvalidRequest, match="is succeeded; only a paused or failed job"):
        client.job(done.id).resume()
    with pytest.raises(InvalidRequest, match="only a queued or running job pauses"):
        client.job(done.id).pause()
    assert time.monotonic() - started < 2  # the retry policy waits ~9 s on a Conflict


def test_a_read_only_home_is_a_configuration_error_naming_it(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, _ = date_files(tmp_path, train=4, held_out=0)
    blocked = tmp_path / "file-home"
    blocked.write_text("not a folder")
    homes = [blocked, blocked / "sub"]
    if os.geteuid() != 0:  # root writes in a read-only folder
        homes.append(tmp_path / "read-only-home")
        homes[-1].mkdir(mode=0o500)
    for home in homes:
        client = ftsdk.client("trl", home=str(home))
        with pytest.raises(ConfigurationError, match=f"{home}.*FTSDK_HOME"):
            client.train(base_model=str(tiny_model), training_data=train)
        assert client.jobs() == []
    monkeypatch.setenv("FTSDK_HOME", str(blocked))  # where records are written as JSONL
    records = ftsdk.Dataset.from_records(date_to_words_examples(4))
    with pytest.raises(ConfigurationError, match=f"{blocked}.*FTSDK_HOME"):
        ftsdk.client("trl").train(base_model=str(tiny_model), training_data=records)
