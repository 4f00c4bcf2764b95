"""Spend control on the emulated services: a run estimated over ``max_cost`` is refused
before a single request reaches OpenAI or Azure, a limit without a price says what price
to give, and a job billed by the hour is paused by the watch before its bill crosses the
limit (the emulator bills running time, as OpenAI bills reinforcement fine-tuning)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import ftsdk
from ftsdk import budget
from ftsdk.cli import main
from ftsdk.errors import BudgetExceeded, InvalidRequest
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"
AZURE_PRICES = "https://azure.microsoft.com/en-us/pricing/details/azure-openai/"
FAST = ftsdk.RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(clock_speed=500) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator, tmp_path: Path) -> Iterator[ftsdk.Client]:
    with ftsdk.client(
        "openai", api_key=emu.api_key, base_url=emu.openai_base_url,
        home=tmp_path / "home", retry=FAST,
    ) as c:  # fmt: skip
        yield c


@pytest.fixture
def train(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(30))


@pytest.fixture(autouse=True)
def no_env_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(budget.MAX_COST_ENV, raising=False)
    monkeypatch.delenv("FTSDK_GPU_HOUR_PRICE", raising=False)
    monkeypatch.delenv("FTSDK_AZURE_TOKEN_PRICE", raising=False)
    monkeypatch.delenv("FTSDK_OPENAI_TOKEN_PRICE", raising=False)


def three_epochs(train: Path) -> float:
    """What ftsdk's own estimate says 3 epochs of ``train`` cost on gpt-4o-mini."""
    usd = ftsdk.Dataset.load(train).estimate_cost(("openai", BASE), epochs=3).usd
    assert usd is not None
    assert usd > 0
    return usd


def test_budget_refuses_an_openai_run_before_any_request(
    emu: Emulator, client: ftsdk.Client, train: Path
) -> None:
    expected = three_epochs(train)
    with pytest.raises(BudgetExceeded) as caught:
        client.train(
            base_model=BASE, training_data=train, method=ftsdk.SFT(epochs=3),
            max_cost=expected / 2,
        )  # fmt: skip
    err = caught.value
    assert isinstance(err, InvalidRequest)
    assert err.estimate == pytest.approx(expected)
    assert err.limit == pytest.approx(expected / 2)
    assert "x 3 epochs x $3.00 per 1M tokens" in err.drivers
    assert f"over the limit of ${expected / 2:,.2f}" in err.message
    assert "nothing was uploaded" in err.message
    assert emu.requests == []  # not one request: no upload, no job

    job = client.train(
        base_model=BASE, training_data=train, method=ftsdk.SFT(epochs=3), max_cost=expected * 2
    )
    assert [j.id for j in emu.jobs] == [job.id]  # under the limit: it runs


def test_budget_limit_from_the_spec_and_the_environment(
    emu: Emulator, client: ftsdk.Client, train: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = three_epochs(train)
    spec = ftsdk.JobSpec(
        base_model=BASE, training_data=train, method=ftsdk.SFT(epochs=3), max_cost=expected / 3
    )
    with pytest.raises(BudgetExceeded, match="over the limit"):
        client.train(spec)
    unlimited = spec.model_copy(update={"max_cost": None})
    monkeypatch.setenv(budget.MAX_COST_ENV, f"{expected / 3}")
    with pytest.raises(BudgetExceeded):
        client.train(unlimited)
    monkeypatch.setenv(budget.MAX_COST_ENV, "lots")
    with pytest.raises(InvalidRequest, match="FTSDK_MAX_COST must be USD"):
        client.train(unlimited)
    assert emu.requests == []
    client.train(unlimited, max_cost=expected * 2)  # the argument wins over the rest
    assert len(emu.jobs) == 1


def test_budget_refuses_through_the_async_client(emu: Emulator, train: Path) -> None:
    async def run() -> None:
        async with ftsdk.async_client(
            "openai", api_key=emu.api_key, base_url=emu.openai_base_url, retry=FAST
        ) as aclient:
            await aclient.train(base_model=BASE, training_data=train, max_cost=0.000001)

    with pytest.raises(BudgetExceeded):
        asyncio.run(run())
    assert emu.requests == []


def test_budget_refuses_from_the_command_line(
    emu: Emulator, train: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", emu.api_key)
    spec = tmp_path / "job.yaml"
    spec.write_text(f"base_model: {BASE}\ntraining_data: {train}\nmax_cost: 100\n")
    result = CliRunner().invoke(
        main,
        ["train", str(spec), "-p", "openai", "--set", f"base_url={emu.openai_base_url}",
         "--epochs", "3", "--max-cost", "0.0001"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "BudgetExceeded: estimated $" in result.output
    assert "over the limit of $0.00 (max_cost)" in result.output
    assert emu.requests == []
    result = CliRunner().invoke(
        main,
        ["train", str(spec), "-p", "openai", "--set", f"base_url={emu.openai_base_url}"],
    )  # the spec file's max_cost, $100: well over this run
    assert result.exit_code == 0, result.output
    assert len(emu.jobs) == 1


def test_budget_on_azure_needs_a_price_and_refuses_before_any_request(
    emu: Emulator, train: Path, tmp_path: Path
) -> None:
    from ftsdk_azure.testing import emulator_settings

    settings = emulator_settings(emu, mode="api-key", home=tmp_path / "home")
    with ftsdk.client("azure", retry=FAST, **settings) as azure:
        seen = len(emu.requests)
        with pytest.raises(InvalidRequest) as caught:
            azure.train(base_model="gpt-4o-mini", training_data=train, max_cost=5)
        assert not isinstance(caught.value, BudgetExceeded)
        assert "no recorded training price for azure/gpt-4o-mini-2024-07-18" in str(caught.value)
        assert "Budget(usd, per_million_tokens=...)" in str(caught.value)
        assert "--token-price" in str(caught.value)
        assert "FTSDK_AZURE_TOKEN_PRICE" in str(caught.value)
        for where in (AZURE_PRICES, "region", "tier"):  # where to find the price
            assert where in str(caught.value)

        priced = ftsdk.Budget(0.0001, per_million_tokens=2.0)
        with pytest.raises(BudgetExceeded) as over:
            azure.train(
                base_model="gpt-4o-mini", training_data=train, method=ftsdk.SFT(epochs=2),
                max_cost=priced,
            )  # fmt: skip
        tokens = ftsdk.Dataset.load(train).estimate_cost(("azure", "gpt-4o-mini"), epochs=2)
        assert over.value.estimate == pytest.approx(tokens.billed_tokens * 2.0 / 1e6)
        assert "x 2 epochs x $2.00 per 1M tokens" in over.value.drivers
        assert len(emu.requests) == seen  # nothing reached the service
        assert emu.files == []
        assert emu.jobs == []


def test_budget_on_azure_takes_the_price_from_the_environment(
    emu: Emulator, train: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ftsdk_azure.testing import emulator_settings

    spec = ftsdk.JobSpec(base_model=BASE, training_data=train, method=ftsdk.SFT(epochs=2))
    billed = ftsdk.Dataset.load(train).estimate_cost(("azure", "gpt-4o-mini"), epochs=2)
    monkeypatch.setenv("FTSDK_AZURE_TOKEN_PRICE", "gpt-4o-mini=2")
    estimate = budget.estimate_spend("azure", spec, ftsdk.Budget(100))
    assert estimate.usd == pytest.approx(billed.billed_tokens * 2.0 / 1e6)
    assert estimate.drivers.endswith("x $2.00 per 1M tokens (from FTSDK_AZURE_TOKEN_PRICE)")
    assert estimate.hosting == "then $1.70/hour while deployed (Standard/Global Standard)"
    assert estimate.to_dict()["hosting"] == estimate.hosting
    # The Budget's own price wins over the environment's; 0 is a price, not "unknown".
    free = budget.estimate_spend("azure", spec, ftsdk.Budget(100, per_million_tokens=0))
    assert (free.usd, free.basis) == (0, "tokens")
    settings = emulator_settings(emu, mode="api-key", home=tmp_path / "home")
    with ftsdk.client("azure", retry=FAST, **settings) as azure:
        seen = len(emu.requests)
        with pytest.raises(BudgetExceeded, match="FTSDK_AZURE_TOKEN_PRICE"):
            azure.train(spec, max_cost=estimate.usd / 2)
        assert len(emu.requests) == seen
        monkeypatch.setenv("FTSDK_AZURE_TOKEN_PRICE", "lots")
        with pytest.raises(InvalidRequest, match="FTSDK_AZURE_TOKEN_PRICE must be your price"):
            azure.train(spec, max_cost=100)
        assert len(emu.requests) == seen
        azure.train(spec)  # no limit: the checks of the data never read a price
        assert len(emu.jobs) == 1


def test_budget_watches_azure_rft_at_the_recorded_hourly_rate(
    emu: Emulator, tmp_path: Path
) -> None:
    """Azure bills o4-mini RFT $100 an hour of training (Microsoft's cost guide, recorded in
    the plugin's data rules): a limit on it is watched at that rate with none given."""
    from ftsdk.graders import StringCheck
    from ftsdk.testing.data import arithmetic_prompts
    from ftsdk_azure.testing import emulator_settings

    emu.config.training_usd_per_hour = 100.0  # the emulator bills as Azure does
    emu.clock.speed = 10
    grader = StringCheck(
        name="exact", input="{{sample.output_text}}", reference="{{item.answer}}", operation="eq"
    )
    spec = ftsdk.JobSpec(
        base_model="o4-mini-2025-04-16",
        training_data=write_jsonl(tmp_path / "rft.jsonl", arithmetic_prompts(30)),
        validation_data=write_jsonl(tmp_path / "rft-valid.jsonl", arithmetic_prompts(10, seed=5)),
        method=ftsdk.RFT(grader=grader, epochs=3),
    )
    limit = ftsdk.Budget(1.0, poll_interval=0.05, clock=emu.clock.now)  # no rate given
    estimate = budget.estimate_spend("azure", spec, limit)
    assert (estimate.usd, estimate.basis) == (None, "hours")
    assert "x $100.00 per hour, o4-mini-2025-04-16's list price recorded" in estimate.drivers
    assert "$5,000" in estimate.drivers
    settings = emulator_settings(emu, mode="api-key", home=tmp_path / "home")
    with ftsdk.client("azure", retry=FAST, **settings) as azure:
        job = azure.train(spec, max_cost=limit)
        watch = budget.watching(job)
        assert watch is not None
        assert watch.budget.per_hour == 100.0
        assert watch.join(timeout=60)
        assert job.refresh().status == ftsdk.JobStatus.PAUSED
        billed = emu.bill(job.id)
        assert 0.7 <= billed <= 1.0  # paused before Azure's bill crossed the limit
        (event,) = watch.events
        assert "x $100.00 per hour) would cross the limit of $1.00" in event.message


@pytest.mark.parametrize("action", ["pause", "cancel"])
def test_budget_stops_a_running_time_billed_job_at_the_limit(
    emu: Emulator, client: ftsdk.Client, train: Path, action: str
) -> None:
    emu.config.training_usd_per_hour = 100.0  # billed by the hour, like RFT
    emu.clock.speed = 10  # 10 emulated seconds a second: $1 of training in 3.6 s
    limit = ftsdk.Budget(
        1.0, per_hour=100.0, poll_interval=0.05, clock=emu.clock.now,
        action=action,  # type: ignore[arg-type]
    )  # fmt: skip
    job = client.train(base_model=BASE, training_data=train, max_cost=limit)
    watch = budget.watching(job)
    assert watch is not None
    assert watch.join(timeout=60)
    job.refresh()
    verb = {"pause": "paused", "cancel": "cancelled"}[action]
    assert job.status == ftsdk.JobStatus(verb)
    (emulated,) = emu.jobs
    whole_run = emulated.total_steps * emu.config.step_seconds / 3600 * 100.0
    assert whole_run > 1.5  # left alone it would have cost more than the limit
    billed = emu.bill(job.id)
    assert 0.7 <= billed <= 1.0  # stopped before the bill crossed $1, within a look or two
    assert billed - 0.05 <= watch.cost <= 1.0  # what it saw at its last look
    (event,) = watch.events
    assert event.level == "warning"
    assert event.message.startswith(f"ftsdk {verb} the job: its running cost $")
    assert "would cross the limit of $1.00 (max_cost)" in event.message
    emu.advance(600)  # stopped: no more training, no more bill
    assert emu.bill(job.id) == pytest.approx(billed)
    assert [e.message for e in job.events(all=True)][-1] == f"Fine-tuning job {verb}"


def test_budget_watch_is_not_started_for_runs_billed_by_token(
    emu: Emulator, client: ftsdk.Client, train: Path
) -> None:
    job = client.train(base_model=BASE, training_data=train, max_cost=100)
    assert budget.watching(job) is None
    assert job.wait(poll_interval=0.02, progress=False).status == ftsdk.JobStatus.SUCCEEDED


def test_budget_on_azure_from_a_shell(emu: Emulator, train: Path, tmp_path: Path) -> None:
    """The real ``ftsdk train -p azure --max-cost``: without a price it says where to find
    one and refuses; with ``--token-price`` or ``FTSDK_AZURE_TOKEN_PRICE`` it checks the
    limit; and nothing reaches Azure before the limit passes."""
    import os
    import subprocess
    import sys

    clean = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("AZURE_", "OPENAI_", "FTSDK_")) and not k.endswith("_TOKEN_PRICE")
    }  # fmt: skip
    env = clean | {
        "AZURE_OPENAI_ENDPOINT": emu.url,
        "AZURE_OPENAI_API_KEY": emu.api_key,
        "FTSDK_HOME": str(tmp_path / "home"),
        "FTSDK_NO_PROGRESS": "1",
    }

    def train_with(*args: str, **more: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).with_name("ftsdk")), "train", "-p", "azure",
             "--model", "gpt-4o-mini-2024-07-18", "--data", str(train), "--epochs", "2", *args],
            env=env | more, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    unpriced = train_with("--max-cost", "5")
    assert unpriced.returncode == 1
    message = " ".join(unpriced.stderr.split())
    assert "no recorded training price for azure/gpt-4o-mini-2024-07-18" in message
    for words in (AZURE_PRICES, "region", "tier", "--token-price", "FTSDK_AZURE_TOKEN_PRICE"):
        assert words in message, words
    expected = ftsdk.Dataset.load(train).estimate_cost(("azure", BASE), epochs=2, token_price=2)
    assert expected.usd is not None
    over = train_with("--max-cost", f"{expected.usd / 2:.6f}", "--token-price", "2")
    assert over.returncode == 1
    assert "BudgetExceeded: estimated $" in over.stderr
    assert "x 2 epochs x $2.00 per 1M tokens" in " ".join(over.stderr.split())
    from_env = train_with("--max-cost", f"{expected.usd / 2:.6f}", FTSDK_AZURE_TOKEN_PRICE="2")
    assert from_env.returncode == 1
    assert "(from FTSDK_AZURE_TOKEN_PRICE)" in " ".join(from_env.stderr.split())
    assert emu.files == []
    assert emu.jobs == []
    under = train_with("--max-cost", f"{expected.usd * 2:.6f}", FTSDK_AZURE_TOKEN_PRICE="2")
    assert under.returncode == 0, under.stderr
    assert len(emu.jobs) == 1
