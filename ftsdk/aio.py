"""The async twins, under their historical address: :class:`~ftsdk.AsyncClient` (in
``ftsdk._client``), :class:`~ftsdk.AsyncJob` (in :mod:`ftsdk.jobs`),
:class:`~ftsdk.AsyncModel` and :class:`~ftsdk.aio.AsyncChatStream` (in :mod:`ftsdk.models`),
each beside its sync twin. Import them from ``ftsdk``; this module stays so that code
written against ``ftsdk.aio`` keeps working::

    client = ftsdk.async_client("openai")
    job = await client.train(base_model="gpt-4.1-mini-2025-04-14", training_data="train.jsonl")
    await job.wait()
    print((await job.model.chat("Hello")).content)
"""

from __future__ import annotations

from ftsdk._client import AsyncClient, async_client
from ftsdk.jobs import AsyncJob
from ftsdk.models import AsyncChatStream, AsyncModel

__all__ = ["AsyncChatStream", "AsyncClient", "AsyncJob", "AsyncModel", "async_client"]
