"""A sweep on the tiny model: Optuna picks the learning rate and the epochs of real TRL
runs (a few steps each), the GPU-hour budget stops it, the best trial is reported; stopped
in the middle and run again, it re-attaches the job that was running and goes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

import ftsdk
from ftsdk.budget import estimate_spend
from ftsdk.sweeps import JobMetric
from ftsdk.testing.data import date_to_words_examples, write_jsonl

pytestmark = pytest.mark.slow
RATE = 1000.0  # USD per GPU-hour: makes the tiny model's estimates worth counting


def test_sweep_on_the_tiny_model_stopped_by_the_budget_and_resumed(
    client: ftsdk.Client, home: Path, tiny_model: Path, tmp_path: Path
) -> None:
    spec = ftsdk.JobSpec(
        base_model=str(tiny_model),
        training_data=write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(48)),
        validation_data=write_jsonl(tmp_path / "valid.jsonl", date_to_words_examples(8, seed=5)),
        method=ftsdk.SFT(batch_size=16),
        provider_options={"num_threads": 1, "logging_steps": 1, "save_minutes": None},
    )
    budget = ftsdk.Budget(0.0, per_hour=RATE)
    per_epoch = estimate_spend(
        "trl", spec.model_copy(update={"method": ftsdk.SFT(batch_size=16, epochs=1)}), budget
    ).usd
    assert per_epoch
    limit = ftsdk.Budget(6 * 2 * per_epoch + per_epoch / 2, per_hour=RATE)  # 6 to 12 trials
    common: dict[str, Any] = {
        "space": {"learning_rate": "1e-3..3e-2 log", "epochs": [1, 2]},
        "providers": [client],
        "max_cost": limit,
        "max_trials": 50,
        "parallel": 2,
        "storage": f"sqlite:///{tmp_path / 'sweeps.db'}",
        "name": "tiny",
        "poll_interval": 0.5,
    }
    finished: list[int] = []

    def interrupt_after_two(trial: optuna.trial.FrozenTrial) -> None:
        finished.append(trial.number)
        if len(finished) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ftsdk.sweep(
            spec, sampler=optuna.samplers.RandomSampler(seed=0), on_trial=interrupt_after_two,
            **common,
        )  # fmt: skip
    study = optuna.load_study(study_name="tiny", storage=common["storage"])
    left = [t for t in study.get_trials() if t.state.name == "RUNNING"]
    assert left
    assert all("job_id" in t.user_attrs for t in left)  # its job goes on

    result = ftsdk.sweep(spec, sampler=optuna.samplers.RandomSampler(seed=1), **common)
    assert result.stopped_by == "budget"
    done = [t for t in result.trials if t.status == "complete"]
    assert len(done) >= 6
    for trial in left:  # re-attached, not trained again
        again = next(t for t in result.trials if t.number == trial.number)
        assert again.job_id == trial.user_attrs["job_id"]
        assert again.status == "complete"
    jobs = client.jobs(limit=100)
    assert len(jobs) == len([t for t in result.trials if t.job_id])  # one job per trial
    assert result.spent_usd <= limit.usd
    best = result.best
    assert best is not None
    assert best.value == min(t.value or 0 for t in done)
    final = JobMetric("valid_loss").series(client.job(best.job_id or ""))[-1]
    assert final[1] == best.value  # the score is the job's final validation loss
    assert {t.params["epochs"] for t in done} <= {1, 2}
    assert f"best: trial {best.number} on trl" in str(result)
