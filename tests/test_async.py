"""The async twins: the same workflow awaited, on a native async provider (OpenAI on
AsyncOpenAI) and on one run in threads (the in-memory test provider)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import ftsdk
from ftsdk import JobStatus
from ftsdk.errors import JobFailed, UnsupportedOperation
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator


def test_openai_workflow_awaited(tmp_path: Path) -> None:
    rows = date_to_words_examples(20)
    train = write_jsonl(tmp_path / "train.jsonl", rows)

    async def workflow(emu: Emulator) -> tuple[str, str, int]:
        async with ftsdk.async_client(
            "openai", api_key=emu.api_key, base_url=emu.openai_base_url
        ) as client:
            job = await client.train(
                base_model="gpt-4o-mini-2024-07-18", training_data=train, method=ftsdk.SFT(epochs=1)
            )
            jobs = await asyncio.gather(*(client.job(job.id) for _ in range(3)))
            assert {j.id for j in jobs} == {job.id}
            await job.wait(poll_interval=0.01)
            assert job.model is not None
            answer = await job.model.chat(rows[3]["messages"][1]["content"])
            events = await job.events()
            return job.status.value, answer.content, len(events)

    with Emulator(clock_speed=2000) as emu:
        status, answer, events = asyncio.run(workflow(emu))
        assert (status, answer) == ("succeeded", rows[3]["messages"][2]["content"])
        assert events > 20
        # the native twins went through AsyncOpenAI: no worker thread needed for them
        assert emu.requests_to("GET /fine_tuning/jobs/{id}")


def test_a_provider_without_async_methods_runs_in_threads(
    registry: ftsdk.ProviderRegistry, secret: str, train_file: Path
) -> None:
    async def workflow() -> None:
        client = ftsdk.async_client(
            "memory",
            registry=registry,
            api_key=secret,
            retry=ftsdk.RetryPolicy(initial_wait=0, jitter=0),
        )
        job = await client.train(base_model="tiny", training_data=train_file)
        assert job.status == JobStatus.VALIDATING
        await job.wait(poll_interval=0.001)
        assert job.model is not None
        assert (await job.model.chat("hi")).content.endswith("heard: hi")
        with pytest.raises(UnsupportedOperation, match="memory does not support 'pause'"):
            await job.pause()
        client.provider.script = [(JobStatus.FAILED, "failed")]  # type: ignore[attr-defined]
        failing = await client.train(base_model="tiny", training_data=train_file)
        with pytest.raises(JobFailed, match="needs 10"):
            await failing.wait(poll_interval=0.001)

    asyncio.run(workflow())
