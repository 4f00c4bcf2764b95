"""Ids that go into a URL (jobs, files, models, checkpoints) are checked before any request:
one that would change the URL's meaning is an ``InvalidRequest`` naming it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import ftsdk
from ftsdk.errors import InvalidRequest
from ftsdk.testing.emulator import Emulator

BAD_IDS = ["", ".", "..", "ftjob-a/../b", "ftjob-a?x=1", "ftjob-a#b", "ft:x/y", " ", "a\nb"]

OPERATIONS: dict[str, Callable[[ftsdk.Client, str], Any]] = {
    "job": lambda c, i: c.job(i),
    "cancel": lambda c, i: c.provider.cancel_job(i),
    "pause": lambda c, i: c.provider.pause_job(i),
    "resume": lambda c, i: c.provider.resume_job(i),
    "events": lambda c, i: c.provider.list_events(i, after=None),
    "events after": lambda c, i: c.provider.list_events("ftjob-abc", after=i),
    "checkpoints": lambda c, i: c.provider.list_checkpoints(i),
    "delete model": lambda c, i: c.model(i).delete(),
}


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_an_id_that_would_change_the_url_is_refused_before_any_request(
    client: ftsdk.Client, emulator: Emulator, operation: str, bad: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        OPERATIONS[operation](client, bad)
    assert repr(bad) in str(caught.value)
    assert caught.value.provider == "openai"
    assert emulator.requests == []


def test_async_operations_check_ids_too(client: ftsdk.Client, emulator: Emulator) -> None:
    import asyncio

    async def attempt() -> None:
        await client.provider.aget_job("..")  # type: ignore[attr-defined]

    with pytest.raises(InvalidRequest):
        asyncio.run(attempt())
    assert emulator.requests == []
