"""With a fault injected at each request of the Azure tutorial in turn (data plane and
Resource Manager), the workflow completes with one file per dataset, one job and one
deployment, which is gone at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator
from ftsdk_azure.testing import emulator_settings

BASE = "gpt-4o-mini-2024-07-18"
FAULTS: dict[str, dict[str, Any]] = {
    "429": {"status": 429, "retry_after_ms": 1},
    "500": {"status": 500},
    "dropped before": {"drop": "before"},
    "dropped after": {"drop": "after"},
}


def tutorial(emu: Emulator, settings: dict[str, Any], train: Path, valid: Path) -> str:
    policy = ftsdk.RetryPolicy(max_attempts=3, initial_wait=0.001, max_wait=0.01)
    with ftsdk.client("azure", retry=policy, **settings) as client:
        job = client.train(
            base_model=BASE, training_data=train, validation_data=valid, method=ftsdk.SFT(epochs=1)
        )
        job.wait(poll_interval=1, sleep=lambda _: emu.advance(20))
        assert job.model is not None
        emu.advance(emu.config.deploy_seconds)
        deployed = job.model.deploy("tutorial")
        answer = deployed.chat("convert 1974-02-09 to words").content
        deployed.undeploy()
        return answer


@pytest.mark.parametrize("kind", list(FAULTS))
def test_fault_at_every_request(kind: str, tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(20))
    valid = write_jsonl(tmp_path / "valid.jsonl", date_to_words_examples(10, seed=5))
    with Emulator(clock_speed=0) as emu:
        emu.config.deploy_seconds = 0
        tutorial(emu, emulator_settings(emu, home=tmp_path / "clean"), train, valid)
        total = len(emu.requests)
    assert total >= 10
    for index in range(1, total + 1):
        with Emulator(clock_speed=0) as emu:
            emu.config.deploy_seconds = 0
            fault = emu.faults.add("*", calls={index}, **FAULTS[kind])
            settings = emulator_settings(emu, home=tmp_path / f"{kind}-{index}")
            assert tutorial(emu, settings, train, valid), (kind, index)
            assert fault.fired == 1
            names = sorted(f.filename.split(".ftsdk-")[0] for f in emu.files)
            assert names == ["train", "valid"], (kind, index)
            assert len(emu.jobs) == 1, (kind, index)
            assert (
                len(
                    emu.requests_to(
                        "PUT /subscriptions/{s}/resourceGroups/{g}/providers/"
                        "Microsoft.CognitiveServices/accounts/{a}/deployments/"
                        "{d}"
                    )
                )
                >= 1
            )
            assert emu.store.deployments == {}, (kind, index)
