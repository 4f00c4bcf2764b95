"""Helpers for testing local providers (TRL, AutoTrain, yours): job folders whose runners
must not outlive a test, the environment a second process needs to watch them, and the
date-to-words data the built-in local providers' tests train on::

    @pytest.fixture
    def home(tmp_path):
        with job_home(tmp_path / "home", "myprovider") as path:
            yield path
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftsdk.jobdir import JobDir, stop_process
from ftsdk.spec import DPO, SFT, JobSpec
from ftsdk.testing.data import date_to_words_examples, write_jsonl

if TYPE_CHECKING:
    from ftsdk.jobs import Job

__all__ = [
    "assert_uneven_batch_refused",
    "DPO_DATES",
    "SFT_DATES",
    "cancel_stops_the_runner",
    "child_env",
    "date_files",
    "dates_spec",
    "job_home",
    "preference_files",
    "stop_runners",
    "watch_from_another_process",
]

SFT_DATES = SFT(epochs=6, batch_size=16, learning_rate=3e-3)
"""The method every local provider's SFT test trains the tiny model with on
:func:`date_files` (1,000 examples: ~95 % exact match after it)."""
DPO_DATES = DPO(beta=0.1, epochs=1, batch_size=8, learning_rate=1e-3, adapter="lora", lora_r=8)
"""The method every local provider's DPO test trains with on :func:`preference_files`."""


def dates_spec(
    base_model: Path, training_data: Path, method: SFT | DPO = SFT_DATES, **provider_options: Any
) -> JobSpec:
    """The JobSpec the built-in local providers' tests run, the same for each so their
    results compare: ``method`` on ``training_data`` (:func:`date_files`,
    :func:`preference_files`) with the model at ``base_model``, seed 0."""
    return JobSpec(
        base_model=str(base_model),
        training_data=training_data,
        method=method,
        seed=0,
        provider_options=provider_options,
    )


def stop_runners(jobs_dir: Path) -> None:
    """Kill the runner (and its process group) of every job folder under ``jobs_dir``."""
    for folder in sorted(jobs_dir.glob("*")):
        stop_process(JobDir(folder).process(), grace=0.5)


@contextlib.contextmanager
def job_home(path: Path, provider: str) -> Iterator[Path]:
    """``path`` as a fresh ftsdk home; on leaving, the runner of every job ``provider``
    started under it is killed (:func:`stop_runners`), so none outlives the test."""
    try:
        yield path
    finally:
        stop_runners(path / provider / "jobs")


def cancel_stops_the_runner(job: Job, jobs_dir: Path) -> None:
    """Cancel ``job``, whose runner runs, and check what a user would: it reads
    ``cancelled`` at once, and its runner and every process under it (the trainer, data
    loaders, ``accelerate`` workers) have ended.

    :raises AssertionError: naming what is wrong.
    """
    import psutil  # type: ignore[import-untyped]

    from ftsdk.jobs import JobStatus

    folder = JobDir(jobs_dir / job.id)
    runner = folder.process()
    assert runner is not None, f"{job.id} has no live runner to cancel (status {job.status})"
    family = [runner, *runner.children(recursive=True)]
    job.cancel()
    assert job.status is JobStatus.CANCELLED, job.status
    _, alive = psutil.wait_procs(family, timeout=5)
    left = [p.pid for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"processes of {job.id} still run after cancel: {left}"
    assert folder.process() is None


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment, with ``FTSDK_HOME=home``, this interpreter's import path
    (so a child imports the same code) and ``extra``."""
    env = dict(os.environ)
    env["FTSDK_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    env.update(extra)
    return env


def date_files(
    folder: Path, *, train: int = 1000, held_out: int = 30, seed: int = 0
) -> tuple[Path, list[dict[str, Any]]]:
    """``train`` date-to-words chat examples written to ``folder/train.jsonl``, and
    ``held_out`` more (not in the file) to test the model on."""
    rows = date_to_words_examples(train + held_out, seed=seed)
    return write_jsonl(folder / "train.jsonl", rows[:train]), rows[train:]


def preference_files(folder: Path, *, pairs: int = 32, seed: int = 3) -> Path:
    """``pairs`` preference pairs in OpenAI's DPO shape written to ``folder/pairs.jsonl``:
    the right date in words preferred over one with a wrong ordinal ("Marchth,")."""
    rows = []
    for row in date_to_words_examples(pairs, seed=seed):
        *prompt, answer = row["messages"]
        wrong = answer["content"].replace(",", "th,", 1)
        rows.append(
            {
                "input": {"messages": prompt},
                "preferred_output": [answer],
                "non_preferred_output": [{"role": "assistant", "content": wrong}],
            }
        )
    return write_jsonl(folder / "pairs.jsonl", rows)


_WATCHER = """
import json, sys, ftsdk
job = ftsdk.client(sys.argv[1]).job(sys.argv[2])
job.wait(poll_interval=0.2, max_poll_interval=0.5, progress=False)
print(json.dumps({
    "status": job.status.value,
    "step": job.state.step,
    "total": job.state.total_steps,
    "events": [e.message for e in job.events()],
    "losses": [m.values.get("train_loss") for m in job.metrics()],
    "model": job.state.result_model,
}))
"""


def watch_from_another_process(
    provider: str, job_id: str, env: dict[str, str], *, timeout: float
) -> dict[str, Any]:
    """Re-attach to ``job_id`` from a new Python process (environment ``env``, e.g.
    :func:`child_env`), wait for its end there, and return what that process saw: status,
    step, total steps, event messages, train losses and the resulting model."""
    watcher = subprocess.run(
        [sys.executable, "-c", _WATCHER, provider, job_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    seen: dict[str, Any] = json.loads(watcher.stdout.strip().splitlines()[-1])
    return seen


def assert_uneven_batch_refused(
    attempts: Iterable[Callable[[JobSpec], object]], spec: JobSpec, *, processes: int = 2
) -> None:
    """Each of ``attempts`` (``client.check``, ``client.train``) refuses ``spec``, whose
    ``batch_size`` does not split over ``processes``, naming the field, the process count and
    the nearest sizes that do."""
    import pytest

    from ftsdk.errors import InvalidRequest

    for attempt in attempts:
        with pytest.raises(InvalidRequest) as caught:
            attempt(spec)
        assert caught.value.field == "method.batch_size", caught.value.field
        assert f"num_processes={processes}" in str(caught.value), caught.value
        assert "e.g. 14 or 16" in str(caught.value), caught.value
