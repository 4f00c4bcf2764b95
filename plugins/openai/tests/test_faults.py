"""With a fault injected at each request of the lifecycle in turn, the workflow completes
and the service ends up with exactly one file per dataset and exactly one job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"
FAULTS: dict[str, dict[str, Any]] = {
    "429": {"status": 429, "retry_after_ms": 1},
    "500": {"status": 500},
    "dropped before": {"drop": "before"},
    "dropped after": {"drop": "after"},
}


def lifecycle(emu: Emulator, home: Path, train: Path, valid: Path) -> str:
    """Upload both files, train, wait, chat on the result and on the base: the answer."""
    policy = ftsdk.RetryPolicy(max_attempts=3, initial_wait=0.001, max_wait=0.01)
    with ftsdk.client(
        "openai", api_key=emu.api_key, base_url=emu.openai_base_url, home=home, retry=policy
    ) as client:
        job = client.train(
            base_model=BASE,
            training_data=train,
            validation_data=valid,
            method=ftsdk.SFT(epochs=1),
            suffix="sweep",
        )
        job.wait(poll_interval=1, sleep=lambda _: emu.advance(20))
        assert job.model is not None
        answer = job.model.chat("convert 1974-02-09 to words").content
        client.model(BASE).chat("hello")
        return answer


def count_requests(tmp_path: Path, train: Path, valid: Path) -> int:
    with Emulator(clock_speed=0) as emu:
        lifecycle(emu, tmp_path / "clean", train, valid)
        return len(emu.requests)


@pytest.mark.parametrize("kind", list(FAULTS))
def test_fault_at_every_request(
    kind: str, tmp_path: Path, train_path: Path, valid_path: Path
) -> None:
    total = count_requests(tmp_path, train_path, valid_path)
    assert total >= 10
    for index in range(1, total + 1):
        with Emulator(clock_speed=0) as emu:
            fault = emu.faults.add("*", calls={index}, **FAULTS[kind])
            answer = lifecycle(emu, tmp_path / f"{kind}-{index}", train_path, valid_path)
            assert fault.fired == 1, (kind, index)
            assert answer  # the fine-tuned model answered
            names = sorted(f.filename.split(".ftsdk-")[0] for f in emu.files)
            assert names == ["train", "valid"], (kind, index, emu.requests)
            assert len(emu.jobs) == 1, (kind, index, emu.requests)
