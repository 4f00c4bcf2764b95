"""Issue 10's acceptance: one application script — prepare, check, estimate, upload, train,
watch, model, chat (plain and streamed), compare — run unchanged on OpenAI and Azure OpenAI
(the emulator, over real HTTP) and on TRL (a real fine-tune of the tiny offline model). Only
the provider's name, its settings (credentials) and the base model it offers differ."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.compare import ComparisonReport, compare
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator


@dataclass
class Outcome:
    """What the application reports, for the test to check."""

    examples: int = 0
    problems: int = 0
    billed_tokens: int = 0
    usd: float | None = None
    uploaded: list[str] = field(default_factory=list)
    job_id: str = ""
    statuses: list[str] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    answer: str = ""
    pieces: list[str] = field(default_factory=list)
    streamed: bool = False
    report: ComparisonReport | None = None


def application(provider: str, settings: dict[str, Any], base_model: str, data: Path) -> Outcome:
    """The user's script. Written once; nothing in it names a provider."""
    out = Outcome()
    with ftsdk.client(provider, **settings) as client:
        # prepare: one file in, a deterministic train/held-out split
        dataset = ftsdk.Dataset.load(data)
        train, held_out = dataset.split(0.05, seed=0)
        # check: every problem with file, line and field, before anything is sent
        checked = train.validate((provider, base_model))
        checked.raise_for_errors()
        out.examples, out.problems = checked.examples, len(checked.errors)
        # estimate: billed tokens and money from the recorded prices
        estimate = train.estimate_cost((provider, base_model), epochs=6)
        out.billed_tokens, out.usd = estimate.billed_tokens, estimate.usd
        # upload (reused by content hash when already there)
        training_file, validation_file = client.upload(train), client.upload(held_out)
        out.uploaded = [training_file.id, validation_file.id]
        # train: a tiny model from scratch needs ~3e-3, 150 x the full-tuning default
        job = client.train(
            base_model=base_model,
            training_data=training_file,
            validation_data=validation_file,
            method=ftsdk.SFT(epochs=6, batch_size=16, learning_rate_multiplier=150),
            seed=0,
            suffix="dates",
        )
        out.job_id = job.id
        # watch
        job.wait(poll_interval=0.2, on_event=lambda event: out.statuses.append(event.message))
        out.losses = [m.values["train_loss"] for m in job.metrics() if "train_loss" in m.values]
        # model: deployed where the provider serves through deployments
        assert job.model is not None
        tuned = job.model.ensure_deployed("dates-tuned")
        base = client.model(base_model).ensure_deployed("dates-base")
        # chat
        first = next(iter(held_out))
        out.answer = tuned.chat(first["messages"][:-1], max_tokens=16).content
        with tuned.stream(first["messages"][:-1], max_tokens=16) as stream:  # as it is written
            out.pieces = list(stream)
        out.streamed = stream.streamed
        # compare with the base model on the held-out examples
        out.report = compare(base, tuned, held_out, max_tokens=16, few_shot=2, few_shot_pool=train)
        for served in (tuned, base):
            if served.info.kind == "deployment":
                served.undeploy()
    return out


@pytest.fixture
def dates(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "dates.jsonl", date_to_words_examples(600, seed=5))


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    with Emulator(clock_speed=5000) as emulator:
        emulator.config.deploy_seconds = 0.2
        yield emulator


def check_common(out: Outcome) -> None:
    assert out.examples == 570  # 95 % of 600
    assert out.problems == 0
    assert out.billed_tokens > 0
    assert out.job_id
    assert out.losses
    assert out.losses[-1] < out.losses[0]
    assert out.answer.strip()
    assert out.streamed  # every built-in provider but AutoTrain streams
    assert "".join(out.pieces) == out.answer  # the same answer, in pieces
    assert len(out.pieces) > 1 or " " not in out.answer.strip()
    assert any("job" in message.lower() for message in out.statuses)  # events were followed
    report = out.report
    assert report is not None
    assert report.base.summary.requests == report.tuned.summary.requests == 30
    assert report.base.summary.errors == report.tuned.summary.errors == 0
    # few-shot examples cost the base model prompt tokens the fine-tune does not need
    assert report.base.summary.mean_prompt_tokens > report.tuned.summary.mean_prompt_tokens
    assert report.difference.mean_prompt_tokens < 0


def test_openai(emu: Emulator, dates: Path, tmp_path: Path) -> None:
    settings = {"api_key": emu.api_key, "base_url": emu.openai_base_url, "home": tmp_path}
    out = application("openai", settings, "gpt-4o-mini-2024-07-18", dates)
    check_common(out)
    assert out.usd is not None
    assert out.usd > 0
    assert [job.id for job in emu.jobs] == [out.job_id]
    report = out.report
    assert report is not None
    assert report.base.summary.cost_per_1k is not None
    assert report.difference.cost_per_1k is not None
    assert report.difference.cost_per_1k < 0  # fewer prompt tokens: cheaper per request


def test_azure(emu: Emulator, dates: Path, tmp_path: Path) -> None:
    from ftsdk_azure.testing import emulator_settings

    settings = emulator_settings(emu, mode="entra", home=tmp_path)
    out = application("azure", settings, "gpt-4o-mini-2024-07-18", dates)
    check_common(out)
    assert emu.store.deployments == {}  # the application cleaned up after itself


def test_trl_on_the_tiny_model(dates: Path, tmp_path: Path) -> None:
    from ftsdk_trl import tiny

    model = tiny.build(tmp_path / "tiny", seed=0)
    settings = {"home": str(tmp_path / "home")}
    out = application("trl", settings, str(model), dates)
    check_common(out)
    report = out.report
    assert report is not None
    assert report.tuned_wins("exact_match")
    assert (report.tuned.summary.quality["exact_match"] or 0) >= 0.8
    assert report.base.summary.quality["exact_match"] == 0
