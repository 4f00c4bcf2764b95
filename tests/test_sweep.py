"""Sweeps on the emulated OpenAI service: Optuna picks the learning rate multiplier and the
epochs, each trial is a real fine-tuning job over HTTP, the budget stops the sweep before a
trial it could not pay for, and ``ftsdk sweep`` interrupted with Ctrl-C goes on where it
stopped when run again, re-attaching the job that was running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

import ftsdk
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"
SPACE = {"learning_rate_multiplier": "0.1..10 log", "epochs": [2, 3]}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(clock_speed=500) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator, tmp_path: Path) -> Iterator[ftsdk.Client]:
    policy = ftsdk.RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02)
    with ftsdk.client(
        "openai", api_key=emu.api_key, base_url=emu.openai_base_url,
        home=tmp_path / "home", retry=policy,
    ) as c:  # fmt: skip
        yield c


@pytest.fixture
def spec(tmp_path: Path) -> ftsdk.JobSpec:
    return ftsdk.JobSpec(
        base_model=BASE,
        training_data=write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(30)),
        validation_data=write_jsonl(tmp_path / "valid.jsonl", date_to_words_examples(10, seed=7)),
    )


def per_epoch(spec: ftsdk.JobSpec) -> float:
    usd = ftsdk.Dataset.load(spec.training_data).estimate_cost(("openai", BASE), epochs=1).usd
    assert usd
    return usd


def test_sweep_on_the_emulator_is_stopped_by_the_budget(
    emu: Emulator, client: ftsdk.Client, spec: ftsdk.JobSpec, tmp_path: Path
) -> None:
    c = per_epoch(spec)
    limit = 6 * 3 * c + c / 2  # room for 6 trials of 3 epochs, at most 9 of 2
    result = ftsdk.sweep(
        spec, space=SPACE, providers=[client], max_cost=limit, max_trials=50,
        storage=f"sqlite:///{tmp_path / 'sweeps.db'}", poll_interval=0.02,
        sampler=optuna.samplers.RandomSampler(seed=1),
    )  # fmt: skip
    assert result.stopped_by == "budget"
    done = [t for t in result.trials if t.status == "complete"]
    assert 6 <= len(done) <= 9
    (stopped,) = [t for t in result.trials if t.status == "stopped"]
    assert stopped.job_id is None
    assert stopped.note is not None
    assert "over the budget" in stopped.note
    assert result.spent_usd <= limit
    assert result.spent_usd + 2 * c > limit  # the next trial could not have been paid for
    assert sum(t.estimate_usd or 0 for t in done) == pytest.approx(result.spent_usd)
    for t in done:
        assert t.estimate_usd == pytest.approx(t.params["epochs"] * c)
    assert len(emu.jobs) == len(done)  # one job per trial, none for the stopped one
    assert {t.job_id for t in done} == {j.id for j in emu.jobs}
    sent = {j.id: j.hyperparameters for j in emu.jobs}
    for t in done:  # the service trained what Optuna chose
        assert sent[t.job_id or ""]["n_epochs"] == t.params["epochs"]
        assert sent[t.job_id or ""]["learning_rate_multiplier"] == pytest.approx(
            t.params["learning_rate_multiplier"]
        )

    best = result.best
    assert best is not None
    assert best.value == min(t.value for t in done if t.value is not None)
    again = client.job(best.job_id or "")  # re-attached by id
    assert again.status == ftsdk.JobStatus.SUCCEEDED
    assert [m.values["valid_loss"] for m in again.metrics() if "valid_loss" in m.values][
        -1
    ] == best.value
    table = str(result)
    assert table.splitlines()[1].startswith(f"{best.number} *")  # the best first
    assert f"best: trial {best.number} on openai" in table
    assert "stopped by the budget" in table

    data = json.loads(result.to_json(tmp_path / "sweep.json"))
    assert data["best"]["job_id"] == best.job_id
    assert len(data["trials"]) == len(result.trials)
    page = result.to_html(tmp_path / "sweep.html")
    assert page.count('<img alt="trials"') == 1
    assert page.count("<tr>") == 1 + len(result.trials)


def test_sweep_refuses_a_space_the_method_does_not_have(
    client: ftsdk.Client, spec: ftsdk.JobSpec, tmp_path: Path
) -> None:
    with pytest.raises(ftsdk.errors.InvalidRequest, match=r"space.lr: not a hyperparameter"):
        ftsdk.sweep(spec, space={"lr": "1..2"}, providers=[client], storage="sqlite://")
    unfit = r"space.epochs: 'many' does not fit: epochs: input should be a valid integer"
    with pytest.raises(ftsdk.errors.InvalidRequest, match=unfit):
        ftsdk.sweep(spec, space={"epochs": "many"}, providers=[client], storage="sqlite://")


def _trials(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    try:
        return optuna.load_study(study_name=name, storage=storage).get_trials()
    except KeyError:
        return []


def test_sweep_interrupted_and_run_again_continues(
    emu: Emulator, spec: ftsdk.JobSpec, tmp_path: Path
) -> None:
    emu.clock.speed = 80  # a job takes about 1 s
    spec_file = tmp_path / "job.json"
    spec_file.write_text(spec.model_dump_json(exclude_defaults=True))
    storage = f"sqlite:///{tmp_path / 'sweeps.db'}"
    command = [
        sys.executable, "-m", "ftsdk", "sweep", str(spec_file), "-p", "openai",
        "--set", f"base_url={emu.openai_base_url}",
        "--param", "learning_rate_multiplier=0.1..10:log", "--param", "epochs=2,3",
        "--max-trials", "6", "--name", "dates", "--storage", storage,
        "--poll-interval", "0.05", "--sampler", "random", "--seed", "3",
    ]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": emu.api_key, "FTSDK_HOME": str(tmp_path / "home")}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # two trials done, a third one's job running
        trials = _trials(storage, "dates")
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        running = [t for t in trials if t.state.name == "RUNNING" and "job_id" in t.user_attrs]
        if len(complete) >= 2 and running:
            break
        assert first.poll() is None, first.communicate()
        time.sleep(0.05)
    else:
        first.kill()
        pytest.fail("the sweep did not get to its third trial")
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    assert b"Run the same command again" in err
    left = [t for t in _trials(storage, "dates") if t.state.name == "RUNNING"]
    assert left
    assert all("job_id" in t.user_attrs for t in left)
    running_job = left[0].user_attrs["job_id"]
    jobs_before = len(emu.jobs)

    again = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    trials = result["trials"]
    assert [t["status"] for t in trials] == ["complete"] * 6
    assert result["stopped_by"] == "max_trials"
    resumed = next(t for t in trials if t["number"] == left[0].number)
    assert resumed["job_id"] == running_job  # re-attached, not started again
    assert len(emu.jobs) == 6  # one job per trial across both runs
    assert len(emu.jobs) - jobs_before == 6 - jobs_before
    assert result["best"]["value"] == min(t["value"] for t in trials)


def test_sweep_stops_with_the_error_when_the_provider_refuses_every_trial(
    emu: Emulator, client: ftsdk.Client, spec: ftsdk.JobSpec, tmp_path: Path
) -> None:
    refused = spec.model_copy(update={"base_model": "gpt-4o-mini"})  # the emulator wants dates
    storage = f"sqlite:///{tmp_path / 'sweeps.db'}"
    with pytest.raises(ftsdk.errors.InvalidRequest, match="not available for fine-tuning"):
        ftsdk.sweep(
            refused, space={"epochs": [2, 3]}, providers=[client], max_trials=10,
            storage=storage, name="refused",
        )  # fmt: skip
    trials = _trials(storage, "refused")
    assert [t.state.name for t in trials] == ["FAIL"] * 3  # not 10: the third one stopped it
    assert all(t.user_attrs["note"].startswith("not started: ") for t in trials)
    assert emu.jobs == []


def test_sweep_pruner_cancels_the_jobs_of_pruned_trials(
    emu: Emulator, client: ftsdk.Client, spec: ftsdk.JobSpec, tmp_path: Path
) -> None:
    emu.clock.speed = 40  # slow enough to see a job's early validation loss
    result = ftsdk.sweep(
        spec, space={"epochs": [2, 3]}, providers=[client], max_trials=2,
        storage=f"sqlite:///{tmp_path / 'sweeps.db'}", poll_interval=0.05,
        pruner=optuna.pruners.ThresholdPruner(upper=0.5),  # early losses are over 2
    )  # fmt: skip
    assert [t.status for t in result.trials] == ["pruned", "pruned"]
    assert result.best is None
    by_id = {j.id: j for j in emu.jobs}
    for trial in result.trials:
        assert by_id[trial.job_id or ""].status == "cancelled"
        assert trial.note == "pruned by the pruner"


def test_sweep_scored_by_compare(
    emu: Emulator, client: ftsdk.Client, spec: ftsdk.JobSpec, tmp_path: Path
) -> None:
    eval_set = write_jsonl(tmp_path / "eval.jsonl", date_to_words_examples(30)[:5])
    metric = ftsdk.sweeps.Compared(eval_set, scorer="exact_match", options={"max_tokens": 16})
    result = ftsdk.sweep(
        spec, space={"epochs": [2, 3]}, providers=[client], metric=metric, max_trials=2,
        storage=f"sqlite:///{tmp_path / 'sweeps.db'}", poll_interval=0.02,
    )  # fmt: skip
    assert result.direction == "maximize"
    assert result.metric == "compare:exact_match"
    # the emulated fine-tune answers its training examples word for word
    assert [t.value for t in result.trials] == [1.0, 1.0]
    chats = emu.requests_to("POST /chat/completions")
    assert len(chats) == 2 * 2 * 5  # base and fine-tuned, five items, two trials


def test_sweep_of_data_in_memory_finds_its_study_again(
    emu: Emulator, client: ftsdk.Client, tmp_path: Path
) -> None:
    def run(max_trials: int) -> ftsdk.sweeps.SweepResult:
        spec = ftsdk.JobSpec(  # a new Dataset object each time, the same examples
            base_model=BASE,
            training_data=ftsdk.Dataset.from_records(date_to_words_examples(30)),
            validation_data=ftsdk.Dataset.from_records(date_to_words_examples(10, seed=7)),
        )
        return ftsdk.sweep(
            spec, space={"epochs": [2, 3]}, providers=[client], max_trials=max_trials,
            storage=f"sqlite:///{tmp_path / 'sweeps.db'}", poll_interval=0.02,
        )  # fmt: skip

    first = run(1)
    second = run(2)
    assert second.name == first.name
    assert [t.job_id for t in second.trials][:1] == [first.trials[0].job_id]
    assert len(second.trials) == 2
    assert len(emu.jobs) == 2
