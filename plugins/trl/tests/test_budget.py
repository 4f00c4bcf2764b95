"""Spend control on local training: with a USD per GPU-hour rate, a run whose estimated
GPU-hours cost more than ``max_cost`` is refused before any job folder or process exists;
without a rate a limit is an error that says which rate to give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.errors import BudgetExceeded, InvalidRequest

METHOD = ftsdk.SFT(epochs=2, batch_size=8, learning_rate=3e-3)


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTSDK_GPU_HOUR_PRICE", raising=False)
    monkeypatch.delenv("FTSDK_MAX_COST", raising=False)


def test_budget_refuses_local_training_over_the_limit_before_starting(
    client: ftsdk.Client, home: Path, tiny_model: Path, dates: tuple[Path, Any]
) -> None:
    train = dates[0]
    estimate = ftsdk.Dataset.load(train).estimate_training(
        ("trl", str(tiny_model)), METHOD, gpu_hour_price=2.5
    )
    slowest = max((f for f in estimate.gpus if f.fits), key=lambda f: f.seconds)
    assert slowest.cost is not None
    assert slowest.cost > 0
    with pytest.raises(BudgetExceeded) as caught:
        client.train(
            base_model=str(tiny_model), training_data=train, method=METHOD,
            max_cost=ftsdk.Budget(slowest.cost / 2, per_hour=2.5),
        )  # fmt: skip
    err = caught.value
    assert err.estimate == pytest.approx(slowest.cost)
    assert f"{estimate.tokens:,} tokens x 2 epochs" in err.drivers
    assert f"GPU-hours on {slowest.gpu.name} (the slowest GPU that fits" in err.drivers
    assert "x $2.50 per GPU-hour" in err.drivers
    assert not (home / "trl" / "jobs").exists() or not any((home / "trl" / "jobs").iterdir())
    assert client.jobs() == []


def test_budget_on_local_training_needs_a_rate(
    client: ftsdk.Client, tiny_model: Path, dates: tuple[Path, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    with pytest.raises(InvalidRequest) as caught:
        client.train(base_model=str(tiny_model), training_data=dates[0], max_cost=1.0)
    assert not isinstance(caught.value, BudgetExceeded)
    assert "give a rate in USD per GPU-hour" in str(caught.value)
    assert "FTSDK_GPU_HOUR_PRICE" in str(caught.value)
    monkeypatch.setenv("FTSDK_GPU_HOUR_PRICE", "1000000")  # the rate from the environment
    with pytest.raises(BudgetExceeded, match=r"x \$1,000,000.00 per GPU-hour"):
        client.train(
            base_model=str(tiny_model), training_data=dates[0], method=METHOD, max_cost=1e-6
        )
    assert client.jobs() == []


def test_budget_flags_of_ftsdk_train(
    home: Path, tiny_model: Path, dates: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from ftsdk.cli import main

    common = ["train", "-p", "trl", "--set", f"home={home}", "--model", str(tiny_model),
              "--data", str(dates[0]), "--epochs", "2"]  # fmt: skip
    refused = CliRunner().invoke(main, [*common, "--max-cost", "0.000001", "--hour-price", "2.5"])
    assert refused.exit_code == 1
    assert "BudgetExceeded: estimated $" in refused.output
    assert "x $2.50 per GPU-hour" in refused.output
    monkeypatch.setenv("FTSDK_MAX_COST", "0.000001")
    from_env = CliRunner().invoke(main, [*common, "--hour-price", "2.5"])
    assert "BudgetExceeded" in from_env.output
    monkeypatch.delenv("FTSDK_MAX_COST")
    no_limit = CliRunner().invoke(main, [*common, "--hour-price", "2.5"])
    assert no_limit.exit_code == 2
    assert "--token-price and --hour-price price a limit: give --max-cost" in no_limit.output
    assert not (home / "trl" / "jobs").exists() or not any((home / "trl" / "jobs").iterdir())
