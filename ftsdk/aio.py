"""The async twins of :class:`~ftsdk.Client`, :class:`~ftsdk.Job` and :class:`~ftsdk.Model`,
for web applications that await a job::

    client = ftsdk.async_client("openai")
    job = await client.train(base_model="gpt-4.1-mini-2025-04-14", training_data="train.jsonl")
    await job.wait()
    print((await job.model.chat("Hello")).content)

A provider may implement native coroutines named after its methods with an ``a`` in front
(``aget_job``, ``achat``, ...; ``astream_chat`` is an async generator) — the OpenAI plugins
do, on ``AsyncOpenAI``; every other method runs in a worker thread. Checks, retries and secret
scrubbing are the sync client's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

from ftsdk import budget
from ftsdk._client import Client, as_spec, resolve_provider, scrub
from ftsdk.budget import Budget
from ftsdk.capabilities import Capabilities, Operation
from ftsdk.errors import FtsdkError
from ftsdk.files import FileRef
from ftsdk.jobs import (
    Checkpoint,
    Job,
    JobEvent,
    JobState,
    JobStatus,
    Metric,
    _failure,
    _JobView,
    _Watch,
)
from ftsdk.models import (
    ChatChunk,
    ChatResponse,
    ModelInfo,
    _Answer,
    chat_arguments,
    needs_deployment,
    whole_answer,
)
from ftsdk.provider import Provider, ProviderOptions
from ftsdk.registry import ProviderRegistry
from ftsdk.retry import RetryPolicy
from ftsdk.spec import DataSource, JobSpec

__all__ = ["AsyncChatStream", "AsyncClient", "AsyncJob", "AsyncModel", "async_client"]


class AsyncClient:
    """One provider, awaited. Everything else is as in :class:`ftsdk.Client`."""

    def __init__(self, provider: Provider, *, retry: RetryPolicy | None = None) -> None:
        self.sync = Client(provider, retry=retry)
        """The sync client over the same provider (for checks and blocking steps)."""

    @property
    def provider(self) -> Provider:
        """The provider instance."""
        return self.sync.provider

    @property
    def name(self) -> str:
        """The provider's registered name."""
        return self.sync.name

    @property
    def capabilities(self) -> Capabilities:
        """What the provider supports, as configured."""
        return self.sync.capabilities

    def __repr__(self) -> str:
        return f"<AsyncClient provider={self.name!r}>"

    async def aclose(self) -> None:
        """Release the provider's connections."""
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, operation: Operation, method: str, /, *args: Any, **kwargs: Any) -> Any:
        self.sync.require(operation)
        native = getattr(self.provider, f"a{method}", None)

        async def attempt() -> Any:
            try:
                if native is not None:
                    return await native(*args, **kwargs)
                return await asyncio.to_thread(getattr(self.provider, method), *args, **kwargs)
            except FtsdkError as err:
                scrub(err, self.provider)
                raise

        async for retrying in self.sync.retry.async_retrying():
            with retrying:
                return await attempt()
        raise AssertionError("unreachable: the retry policy re-raises the last error")

    async def _stream(
        self, operation: Operation, method: str, /, *args: Any, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """What the provider's generator ``method`` yields (its native ``a{method}`` async
        generator when it has one): opening it, up to its first item, is retried like any
        call; an error after that ends the stream, scrubbed."""
        self.sync.require(operation)
        native = getattr(self.provider, f"a{method}", None)
        end = object()

        async def opened() -> tuple[Any, AsyncIterator[Any]]:
            try:
                if native is not None:
                    items: AsyncIterator[Any] = native(*args, **kwargs)
                    return await anext(items, end), items

                def start() -> tuple[Any, Iterator[Any]]:
                    sync = iter(getattr(self.provider, method)(*args, **kwargs))
                    return next(sync, end), sync

                first, sync = await asyncio.to_thread(start)
                return first, _in_threads(sync, end)
            except FtsdkError as err:
                scrub(err, self.provider)
                raise

        first: Any = end
        items: AsyncIterator[Any] | None = None
        async for retrying in self.sync.retry.async_retrying():
            with retrying:
                first, items = await opened()
        assert items is not None
        try:
            if first is end:
                return
            yield first
            async for item in items:
                yield item
        except FtsdkError as err:
            scrub(err, self.provider)
            raise
        finally:
            close = getattr(items, "aclose", None)
            if close is not None:
                await close()

    async def upload(self, data: DataSource) -> FileRef:
        """Upload training data (see :meth:`ftsdk.Client.upload`)."""
        return await asyncio.to_thread(self.sync.upload, data)

    async def train(
        self,
        spec: JobSpec | None = None,
        /,
        *,
        check_data: bool = True,
        max_cost: float | Budget | None = None,
        **fields: Any,
    ) -> AsyncJob:
        """Check, upload, start the job (see :meth:`ftsdk.Client.train`, ``max_cost``
        included)."""
        spec = as_spec(spec, fields)
        request = await asyncio.to_thread(
            self.sync._prepare, spec, check_data=check_data, max_cost=max_cost
        )
        state: JobState = await self._call(Operation.TRAIN, "create_job", request)
        budget.watch_if_time_billed(self.sync, Job(self.sync, state), spec, max_cost)
        return AsyncJob(self, state)

    async def job(self, job_id: str) -> AsyncJob:
        """Re-attach to a job by id."""
        state: JobState = await self._call(Operation.TRAIN, "get_job", job_id)
        return AsyncJob(self, state)

    async def jobs(self, *, limit: int = 20) -> list[AsyncJob]:
        """The newest jobs first."""
        states: list[JobState] = await self._call(Operation.LIST_JOBS, "list_jobs", limit=limit)
        return [AsyncJob(self, state) for state in states]

    def model(self, model_id: str, **info: Any) -> AsyncModel:
        """A handle to a model by id."""
        return AsyncModel(self, self.sync.model(model_id, **info).info)

    def check(self, spec: JobSpec, *, check_data: bool = True) -> ProviderOptions:
        """See :meth:`ftsdk.Client.check` (blocking: it reads the data)."""
        return self.sync.check(spec, check_data=check_data)

    def check_data(self, spec: JobSpec) -> None:
        """See :meth:`ftsdk.Client.check_data` (blocking: it reads the data)."""
        self.sync.check_data(spec)


class AsyncJob(_JobView):
    """The async twin of :class:`ftsdk.Job`."""

    def __init__(self, client: AsyncClient, state: JobState) -> None:
        self._client = client
        self.state = state
        self._events: list[JobEvent] = []
        self._read = 0
        self._model: AsyncModel | None = None

    @property
    def model(self) -> AsyncModel | None:
        """The fine-tuned model, once the job has succeeded."""
        if self.state.result_model is None:
            return None
        if self._model is None or self._model.id != self.state.result_model:
            self._model = self._client.model(
                self.state.result_model, base_model=self.state.base_model, job_id=self.id
            )
        return self._model

    async def refresh(self) -> AsyncJob:
        """Read the job's current state."""
        self.state = await self._client._call(Operation.TRAIN, "get_job", self.id)
        return self

    async def cancel(self) -> AsyncJob:
        """Cancel the job."""
        self.state = await self._client._call(Operation.CANCEL, "cancel_job", self.id)
        return self

    async def pause(self) -> AsyncJob:
        """Pause the job."""
        self.state = await self._client._call(Operation.PAUSE, "pause_job", self.id)
        return self

    async def resume(self) -> AsyncJob:
        """Resume a paused job."""
        self.state = await self._client._call(Operation.RESUME, "resume_job", self.id)
        return self

    async def _fetch_events(self) -> list[JobEvent]:
        after = self._events[-1].id if self._events else None
        new: list[JobEvent] = await self._client._call(
            Operation.EVENTS, "list_events", self.id, after=after
        )
        return new

    async def events(self, *, all: bool = False) -> list[JobEvent]:
        """Events this handle has not returned before, oldest first (or ``all``)."""
        return self._take(await self._fetch_events(), all=all)

    async def metrics(self) -> list[Metric]:
        """Every step's metrics so far, by step."""
        found: list[Metric] = await self._client._call(Operation.METRICS, "list_metrics", self.id)
        return sorted(found, key=lambda m: m.step)

    async def checkpoints(self) -> list[Checkpoint]:
        """The job's checkpoints, by step."""
        found: list[Checkpoint] = await self._client._call(
            Operation.CHECKPOINTS, "list_checkpoints", self.id
        )
        return sorted(found, key=lambda c: c.step)

    async def wait(
        self,
        *,
        timeout: float | None = None,
        poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
        progress: bool | None = None,
        raise_on_failure: bool = True,
        on_event: Callable[[JobEvent], None] | None = None,
    ) -> AsyncJob:
        """Await the end of the job (see :meth:`ftsdk.Job.wait`)."""
        watch = _Watch(
            f"{self.provider} {self.id}",
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            progress=progress,
        )
        with_events = self._client.capabilities.supports(Operation.EVENTS)
        try:
            while True:
                await self.refresh()
                if with_events:
                    watch.arrived(await self._fetch_events(), self._events, on_event)
                if watch.show(self.state, self._events):
                    break
                await asyncio.sleep(watch.next_interval(self.state))
        finally:
            watch.close()
        if raise_on_failure and self.status != JobStatus.SUCCEEDED:
            raise _failure(self)
        return self


class AsyncModel:
    """The async twin of :class:`ftsdk.Model`."""

    def __init__(self, client: AsyncClient, info: ModelInfo) -> None:
        self._client = client
        self.info = info

    @property
    def id(self) -> str:
        """The provider's model id."""
        return self.info.id

    def __repr__(self) -> str:
        return f"<AsyncModel {self.id} provider={self.info.provider} kind={self.info.kind}>"

    async def chat(
        self, messages: str | Sequence[Mapping[str, Any]], **params: Any
    ) -> ChatResponse:
        """Send a conversation (or one user message); await the answer."""
        response: ChatResponse = await self._client._call(
            Operation.CHAT, "chat", *chat_arguments(self.info, messages, params)
        )
        return response

    def stream(self, messages: str | Sequence[Mapping[str, Any]], **params: Any) -> AsyncChatStream:
        """The answer piece by piece (see :meth:`ftsdk.Model.stream`), to ``async for``.

        A provider's native ``astream_chat`` (an async generator) is used when it has one;
        otherwise its ``stream_chat`` runs in worker threads, a piece at a time."""
        args = chat_arguments(self.info, messages, params)
        if self._client.capabilities.supports(Operation.STREAM):
            chunks = self._client._stream(Operation.STREAM, "stream_chat", *args)
            return AsyncChatStream(chunks, self.id, streamed=True)

        async def whole() -> AsyncIterator[ChatChunk]:
            yield whole_answer(await self._client._call(Operation.CHAT, "chat", *args))

        return AsyncChatStream(whole(), self.id, streamed=False)

    async def deploy(self, name: str | None = None, **options: Any) -> AsyncModel:
        """Deploy the model (see :meth:`ftsdk.Model.deploy`)."""
        info: ModelInfo = await self._client._call(
            Operation.DEPLOY, "deploy_model", self.info, name=name, options=options
        )
        return AsyncModel(self._client, info)

    async def ensure_deployed(self, name: str | None = None, **options: Any) -> AsyncModel:
        """See :meth:`ftsdk.Model.ensure_deployed`."""
        if not needs_deployment(self.info, self._client.capabilities):
            return self
        return await self.deploy(name, **options)

    async def undeploy(self) -> None:
        """Remove this model's deployment."""
        await self._client._call(Operation.DEPLOY, "undeploy_model", self.info)

    async def delete(self) -> None:
        """Delete this fine-tuned model."""
        await self._client._call(Operation.DELETE_MODEL, "delete_model", self.info)

    async def push_to_hub(self, repo_id: str, *, private: bool = True) -> str:
        """See :meth:`ftsdk.Model.push_to_hub`."""
        url: str = await self._client._call(
            Operation.PUSH, "push_model", self.info, repo_id=repo_id, private=private
        )
        return url


def async_client(
    name: str,
    *,
    registry: ProviderRegistry | None = None,
    retry: RetryPolicy | None = None,
    **config: Any,
) -> AsyncClient:
    """An :class:`AsyncClient` for the provider registered as ``name`` (settings as for
    :func:`ftsdk.client`)."""
    return AsyncClient(resolve_provider(name, registry, config), retry=retry)


class AsyncChatStream:
    """:class:`ftsdk.ChatStream` for ``async for``::

    async with model.stream("Tell me a story") as stream:
        async for text in stream:
            print(text, end="")
    print(stream.response.usage)
    """

    def __init__(self, chunks: AsyncIterator[ChatChunk], model: str, *, streamed: bool) -> None:
        self._chunks = chunks
        self._answer = _Answer(model)
        self._done = False
        self.streamed = streamed
        """Whether the provider streams; when not, the whole answer comes as one piece."""

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> str:
        while True:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self._done = True
                raise
            text = self._answer.take(chunk)
            if text:
                return text

    @property
    def response(self) -> ChatResponse:
        """The whole answer, once the stream has been read to its end."""
        if not self._done:
            raise RuntimeError("read the stream to its end (async for) before its response")
        return self._answer.response()

    async def aclose(self) -> None:
        """Stop reading; the provider stops generating where it can."""
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _in_threads(items: Iterator[Any], end: object) -> AsyncIterator[Any]:
    """A sync iterator read in worker threads, an item at a time; closed in one too."""
    try:
        while (item := await asyncio.to_thread(next, items, end)) is not end:
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
