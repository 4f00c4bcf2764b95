"""``AsyncClient.aclose`` closes the OpenAI plugin's async client, not only its sync one."""

from __future__ import annotations

import asyncio

import ftsdk
from ftsdk.testing.emulator import Emulator


def test_aclose_closes_the_async_openai_client(emulator: Emulator) -> None:
    async def use_then_close() -> tuple[bool, bool, int]:
        async with ftsdk.async_client(
            "openai", api_key=emulator.api_key, base_url=emulator.openai_base_url
        ) as client:
            jobs = await client.jobs(limit=5)
            native = client.provider._aclient()  # type: ignore[attr-defined]
            open_before = not native.is_closed()
        return open_before, native.is_closed(), len(jobs)

    open_before, closed_after, listed = asyncio.run(use_then_close())
    assert open_before
    assert closed_after
    assert listed == 0
    assert emulator.requests_to("GET /fine_tuning/jobs")  # it went through the async client
