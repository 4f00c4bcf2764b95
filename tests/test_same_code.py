"""One piece of user code runs unchanged on OpenAI and on Azure OpenAI: only the provider
name and the credentials differ (both against the emulator, over real HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator


def user_code(client: ftsdk.Client, train: Path, valid: Path, question: str) -> tuple[str, str]:
    """What a user writes once: fine-tune, watch, serve, ask, clean up."""
    job = client.train(
        base_model="gpt-4o-mini-2024-07-18",
        training_data=train,
        validation_data=valid,
        method=ftsdk.SFT(epochs=2),
        suffix="dates",
    )
    job.wait(poll_interval=0.02)
    losses = [e.metrics["train_loss"] for e in job.events(all=True) if "train_loss" in e.metrics]
    assert losses[-1] < losses[0]
    model = job.model
    assert model is not None
    served = model.ensure_deployed("dates")
    answer = served.chat(question).content
    if served is not model:
        served.undeploy()
    return job.id, answer


def openai_settings(emu: Emulator, home: Path) -> dict[str, Any]:
    return {"api_key": emu.api_key, "base_url": emu.openai_base_url, "home": home}


def azure_settings(emu: Emulator, home: Path) -> dict[str, Any]:
    from ftsdk_azure.testing import emulator_settings

    return emulator_settings(emu, mode="entra", home=home)


@pytest.mark.parametrize(
    ("provider", "settings"), [("openai", openai_settings), ("azure", azure_settings)]
)
def test_the_same_code_on_each_provider(
    provider: str,
    settings: Callable[[Emulator, Path], dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    rows = date_to_words_examples(40)
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    question, truth = (m["content"] for m in rows[7]["messages"][1:])
    valid = write_jsonl(tmp_path / "valid.jsonl", date_to_words_examples(10, seed=2))
    with Emulator(clock_speed=500) as emu:
        emu.config.deploy_seconds = 0.5
        with ftsdk.client(provider, **settings(emu, tmp_path / "home")) as client:
            job_id, answer = user_code(client, train, valid, question)
        assert answer == truth
        assert [j.id for j in emu.jobs] == [job_id]
        assert emu.store.deployments == {}
