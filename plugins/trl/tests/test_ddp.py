"""Several processes on one machine (issue 19): two CPU ranks under ``accelerate launch``
(torchrun, gloo) train the tiny model as a user would run them, with
``provider_options={"num_processes": 2}``. Only rank 0 writes the job folder; killing one
rank fails the job naming it; ``resume()`` continues on two ranks from the last checkpoint
to the loss an uninterrupted run reaches.

Real processes throughout: the launcher, torchrun's two ranks, SIGKILL of one rank found
among the launcher's children. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import pytest

import ftsdk
from ftsdk.jobdir import JobDir, visible_gpus, write_json_atomic
from ftsdk.testing.local import date_files, job_home

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        visible_gpus() == 1, reason="two ranks need two GPUs, or none (gloo on CPU)"
    ),
]

STEPS = 40
SAVE_STEPS = 5
BATCH = "batch: 8 examples per optimizer step = 4 per device x 1 accumulation x 2 processes"


def two_rank_job(client: ftsdk.Client, model: Path, data: Path) -> ftsdk.Job:
    """The job every test here runs: 40 steps of 8 examples on two ranks, a metric row
    each step, a checkpoint every 5."""
    return client.train(
        base_model=str(model),
        training_data=data,
        method=ftsdk.SFT(epochs=1, batch_size=8, learning_rate=3e-3, max_steps=STEPS),
        seed=0,
        provider_options={
            "num_processes": 2,
            "num_threads": 1,
            "logging_steps": 1,
            "save_steps": SAVE_STEPS,
            "save_total_limit": 20,
        },
    )


def losses(job: ftsdk.Job) -> dict[int, float]:
    return {m.step: m.values["train_loss"] for m in job.metrics() if "train_loss" in m.values}


def messages(job: ftsdk.Job) -> list[str]:
    return [event.message for event in job.events(all=True)]


@pytest.fixture(scope="module")
def uninterrupted(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path
) -> Iterator[tuple[ftsdk.Job, Path]]:
    """One two-rank run from start to end, and its home: what the other runs compare to."""
    folder = tmp_path_factory.mktemp("ddp")
    data, _ = date_files(folder)
    with (
        job_home(folder / "home", "trl") as home,
        ftsdk.client("trl", home=str(home)) as client,
    ):
        job = two_rank_job(client, tiny_model, data).wait(poll_interval=0.5, progress=False)
        yield job, home


def test_ddp_two_ranks_write_the_job_folder_once(
    uninterrupted: tuple[ftsdk.Job, Path],
) -> None:
    """Rank 0 alone writes: one event per step, one metrics row per step, each checkpoint
    and one-time event once; the Trainer saved every rank's RNG state in each checkpoint."""
    job, home = uninterrupted
    assert job.status is ftsdk.JobStatus.SUCCEEDED
    assert (job.state.step, job.state.total_steps) == (STEPS, STEPS)
    events = messages(job)
    step_events = [e for e in job.events(all=True) if e.message.startswith("step ")]
    assert [e.step for e in step_events] == list(range(1, STEPS + 1))  # not two per step
    rows = [
        json.loads(line)["step"]
        for line in (home / "trl" / "jobs" / job.id / "metrics.jsonl").read_text().splitlines()
    ]
    assert Counter(rows) == Counter(range(1, STEPS + 1))  # one row each, none doubled
    saved = [e for e in events if e.startswith("checkpoint saved")]
    assert saved == [f"checkpoint saved at step {s}" for s in range(SAVE_STEPS, STEPS + 1, 5)]
    once = ("setup on ", "batch: ", "training: step 0", "training done", "succeeded: ")
    for start in once:
        assert sum(e.startswith(start) for e in events) == 1, (start, events)
    assert BATCH in events  # the trainer's own arguments: two ranks really ran
    folder = JobDir(home / "trl" / "jobs" / job.id)
    assert json.loads((folder.path / "setup.json").read_text())["device"]["kind"] == "cpu"
    for _, checkpoint in folder.checkpoints():
        assert {"rng_state_0.pth", "rng_state_1.pth"} <= {p.name for p in checkpoint.iterdir()}
    assert (folder.model_dir / "model.safetensors").is_file()
    assert job.model is not None
    answer = job.model.chat("convert 2024-03-07 to words", max_tokens=8)  # the saved weights
    assert answer.model == str(folder.model_dir)


def rank_processes(folder: JobDir) -> tuple[psutil.Process, dict[int, psutil.Process]]:
    """The launcher and its rank processes (children with ``RANK`` in their environment),
    once both ranks run."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        launcher = folder.process()
        ranks: dict[int, psutil.Process] = {}
        for child in launcher.children() if launcher is not None else []:
            try:
                rank = child.environ().get("RANK")
            except psutil.Error:
                continue
            if rank is not None:
                ranks[int(rank)] = child
        if launcher is not None and len(ranks) == 2:
            return launcher, ranks
        time.sleep(0.1)
    raise AssertionError(f"no two ranks under the launcher of {folder.id}")


def wait_for_step_after_checkpoint(folder: JobDir) -> int:
    """Wait until a checkpoint exists and training is at least 2 steps past it; return
    that checkpoint's step."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = folder.checkpoints()
        logged = max((row["step"] for row in folder.metrics()), default=0)
        if found and logged >= found[0][0] + 2:
            return found[0][0]
        assert logged < STEPS, "training ended before a rank could be killed"
        time.sleep(0.02)
    raise AssertionError(f"{folder.id} saved no checkpoint in time")


def test_ddp_killing_a_rank_fails_the_job_then_resume_matches_an_uninterrupted_run(
    client: ftsdk.Client,
    tiny_model: Path,
    dates: tuple[Path, list[dict[str, Any]]],
    home: Path,
    uninterrupted: tuple[ftsdk.Job, Path],
) -> None:
    job = two_rank_job(client, tiny_model, dates[0])
    folder = JobDir(home / "trl" / "jobs" / job.id)
    launcher, ranks = rank_processes(folder)
    family = [launcher, *launcher.children(recursive=True)]
    first_checkpoint = wait_for_step_after_checkpoint(folder)
    ranks[1].kill()  # SIGKILL, as the OOM killer would

    job.wait(poll_interval=0.2, progress=False, raise_on_failure=False)
    assert job.status is ftsdk.JobStatus.FAILED
    assert job.state.error is not None
    assert job.state.error.code == "process_died"
    headline = job.state.error.message.splitlines()[0]
    assert headline.startswith(
        f"rank 1 of 2 was killed by signal 9 (SIGKILL) (pid {ranks[1].pid})"
    ), headline
    assert job.state.raw_status == "process_died"
    _, alive = psutil.wait_procs(family, timeout=10)
    assert not [p.pid for p in alive if p.status() != psutil.STATUS_ZOMBIE], "orphans left"
    events = messages(job)
    assert not any(e.startswith("succeeded") for e in events)
    assert sum(e.startswith("failed: rank 1 of 2 was killed") for e in events) == 1
    assert "ftsdk: rank 1 of 2 was killed by signal 9" in folder.log_file.read_text()
    killed_at = max(losses(job))
    resumed_from = folder.last_checkpoint()
    assert resumed_from is not None
    resumed_step = int(resumed_from.name.removeprefix("checkpoint-"))
    # killed 2 steps or more past a checkpoint: those steps run again (unless this test was
    # held up long enough for the ranks to save one more checkpoint before the kill)
    assert first_checkpoint <= resumed_step <= killed_at

    job.resume()
    job.wait(poll_interval=0.5, progress=False)
    assert (job.state.step, job.state.total_steps) == (STEPS, STEPS)
    after = messages(job)[len(events) :]
    assert f"resuming from checkpoint-{resumed_step}" in after
    assert f"training: step {resumed_step} of {STEPS}" in after  # the step continues
    assert after.count(BATCH) == 1  # still two ranks, the same batch_size split
    assert "--num-processes 2 --resume" in folder.log_file.read_text()
    step_events = [e.step for e in job.events(all=True) if e.message.startswith("step ")]
    assert step_events == list(range(1, STEPS + 1))  # the rerun steps are not repeated

    baseline, resumed = losses(uninterrupted[0]), losses(job)
    assert set(resumed) == set(range(1, STEPS + 1))
    for step in range(resumed_step + 1, STEPS + 1):  # trained again from the checkpoint
        assert resumed[step] == pytest.approx(baseline[step], rel=0.03), step
    assert resumed[STEPS] == pytest.approx(baseline[STEPS], rel=0.03)


def test_ddp_a_rank_that_raises_fails_the_job_with_its_traceback(tmp_path: Path) -> None:
    """The launcher on a job whose model folder vanished: each rank raises before
    training; the job fails with the first rank's exception and traceback, code
    ``training_error``, and no process is left."""
    job = JobDir(tmp_path / "trljob-20260101000000-0badbeef")
    job.path.mkdir()
    data, _ = date_files(tmp_path, train=16, held_out=0)
    write_json_atomic(
        job.spec_file,
        {
            "model_path": str(tmp_path / "gone"),
            "train_file": str(data),
            "method": {"type": "sft", "batch_size": 8},
            "options": {"num_processes": 2, "num_threads": 1},
        },
    )
    job.update_status(status="queued")
    from ftsdk_trl.engines.ranks import launcher_command
    from ftsdk_trl.provider import runner_environment

    env = runner_environment() | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        launcher_command(job.path, resume=False, num_processes=2),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=env,
        start_new_session=True,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    status = job.read_status()
    assert status["status"] == "failed"
    assert status["error"]["code"] == "training_error"
    headline, _, trace = status["error"]["message"].partition("\n")
    assert headline.startswith(("rank 0 of 2 raised ", "rank 1 of 2 raised ")), headline
    assert str(tmp_path / "gone") in headline
    assert "traceback:" in trace
    assert 'File "' in trace  # the rank's own stack, from torchrun's error file
    assert [e["message"] for e in job.events() if e["level"] == "error"] == [f"failed: {headline}"]
    left = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if str(job.path) in " ".join(p.info["cmdline"] or [])
    ]
    assert not left, f"processes of the job left: {left}"


def test_ddp_resume_runs_as_many_processes_as_the_job_recorded(
    client: ftsdk.Client, home: Path
) -> None:
    """A job created on two processes resumes on two, whatever ``num_processes`` says now
    (unset: one per visible GPU): spec.json's batch split is the record."""
    from ftsdk_trl.engines import LocalEngine

    job = JobDir(home / "trl" / "jobs" / "trljob-20260101000000-0000abcd")
    job.path.mkdir(parents=True)
    write_json_atomic(job.spec_file, {"batch": {"num_processes": 2}, "options": {}})
    engine = LocalEngine(client.provider)  # type: ignore[arg-type]
    command, env = engine.command(job, {"num_processes": None}, resume=True)
    assert command[1:] == [
        "-m",
        "ftsdk_trl.engines.ranks",
        str(job.path),
        "--num-processes",
        "2",
        "--resume",
    ]
    assert "HF_TOKEN" not in env


def test_ddp_pause_stops_both_ranks_at_the_same_step(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]], home: Path
) -> None:
    """Rank 0 reads the pause from the folder and tells rank 1: both save that step's
    checkpoint (each its RNG state) and end cleanly; none trains on alone."""
    job = two_rank_job(client, tiny_model, dates[0])
    folder = JobDir(home / "trl" / "jobs" / job.id)
    launcher, _ = rank_processes(folder)
    family = [launcher, *launcher.children(recursive=True)]
    wait_for_step_after_checkpoint(folder)
    job.pause()
    assert job.status is ftsdk.JobStatus.PAUSED, job.state
    step = job.state.step
    assert step is not None
    assert step < STEPS
    paused = folder.last_checkpoint()
    assert paused is not None
    assert paused.name == f"checkpoint-{step}"
    assert {"rng_state_0.pth", "rng_state_1.pth"} <= {p.name for p in paused.iterdir()}
    _, alive = psutil.wait_procs(family, timeout=10)
    assert not alive
    log = folder.log_file.read_text()
    assert "ChildFailedError" not in log  # torchrun saw every rank end well
    assert "ftsdk: rank" not in log
    assert not [e for e in job.events(all=True) if e.level == "error"]


def torchrun_failure(tmp_path: Path, rank: int, exitcode: int, raised: str | None, at: int) -> Any:
    """torchrun's own record of a failed rank (``ProcessFailure``), with the error file a
    rank writes when it raised (torch's ``ErrorHandler`` format), at time ``at``."""
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

    error_file = tmp_path / f"error-{rank}.json"
    if raised is not None:
        trace = f'Traceback (most recent call last):\n  File "train.py"\n{raised}'
        info = {"py_callstack": trace, "timestamp": str(at)}
        error_file.write_text(json.dumps({"message": {"message": raised, "extraInfo": info}}))
    failure = ProcessFailure(
        local_rank=rank, pid=1000 + rank, exitcode=exitcode, error_file=str(error_file)
    )
    failure.timestamp = at  # torchrun's clock: whole seconds
    return failure


def test_ddp_the_killed_rank_is_named_before_the_peer_it_broke(tmp_path: Path) -> None:
    """Rank 0 raised at its next collective when rank 1 was SIGKILLed, and recorded it a
    second before torchrun saw rank 1 gone: torchrun's "first observed failure" is rank 0,
    the job's error names rank 1."""
    from ftsdk_trl.engines.ranks import failure_message

    lost = "RuntimeError: [gloo] Read error: Connection reset by peer"
    failures = {
        0: torchrun_failure(tmp_path, 0, -15, lost, at=100),
        1: torchrun_failure(tmp_path, 1, -9, None, at=101),
    }
    message, code = failure_message(failures, 2)
    assert message == (
        "rank 1 of 2 was killed by signal 9 (SIGKILL) (pid 1001); then rank 0 raised "
        f"{lost} (pid 1000), then was stopped by signal 15 (SIGTERM)"
    )
    assert code == "process_died"

    same = "OSError: /models/gone is not a folder"
    both = {r: torchrun_failure(tmp_path, r, 1, same, at=100) for r in (1, 0)}
    message, code = failure_message(both, 2)
    headline, _, trace = message.partition("\n")
    assert headline == (
        f"rank 0 of 2 raised {same} (pid 1000, exit code 1); "
        "then rank 1 raised the same (pid 1001, exit code 1)"
    )
    assert trace.endswith(f'File "train.py"\n{same}')
    assert code == "training_error"


def test_ddp_cancel_stops_the_launcher_and_both_ranks(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, list[dict[str, Any]]], home: Path
) -> None:
    """Cancel reaches the ranks, though torchrun starts each in a session of its own; the
    launcher, stopped, does not write the job failed over ``cancelled``."""
    from ftsdk.testing.local import cancel_stops_the_runner

    job = two_rank_job(client, tiny_model, dates[0])
    rank_processes(JobDir(home / "trl" / "jobs" / job.id))  # both ranks started
    cancel_stops_the_runner(job, home / "trl" / "jobs")  # every process of it has ended
    assert job.refresh().status is ftsdk.JobStatus.CANCELLED
    assert not [e for e in job.events(all=True) if e.message.startswith("failed")]
