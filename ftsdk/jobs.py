"""Training jobs: their normalized state, events, metrics, checkpoints, and the job
handles, :class:`Job` and its async twin :class:`AsyncJob`, side by side."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ftsdk.capabilities import Operation
from ftsdk.errors import JobFailed, Timeout

if TYPE_CHECKING:  # named as strings in the handles' generic bases, which ruff does not read
    from ftsdk._client import AsyncClient, Client  # noqa: F401
    from ftsdk.models import AsyncModel, Model  # noqa: F401

__all__ = [
    "AsyncJob",
    "Checkpoint",
    "Job",
    "JobError",
    "JobEvent",
    "JobState",
    "JobStatus",
    "Metric",
]

log = logging.getLogger("ftsdk.jobs")


class JobStatus(enum.StrEnum):
    """A job's status, the same words on every provider (the raw one is kept beside it)."""

    VALIDATING = "validating"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether the job can no longer change (succeeded, failed or cancelled)."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobError(BaseModel):
    """Why a job failed, in the provider's own words."""

    model_config = ConfigDict(frozen=True)

    message: str
    code: str | None = None
    param: str | None = None


class JobState(BaseModel):
    """A snapshot of a job as the provider reported it. Providers return these."""

    model_config = ConfigDict(frozen=True)

    id: str
    provider: str
    status: JobStatus
    raw_status: str
    """The provider's own status word, e.g. OpenAI's ``validating_files`` or Azure's
    ``pending``."""
    base_model: str | None = None
    method: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    estimated_finish: datetime | None = None
    trained_tokens: int | None = None
    step: int | None = None
    total_steps: int | None = None
    error: JobError | None = None
    result_model: str | None = None
    """Id of the fine-tuned model, once the job succeeded."""
    metadata: dict[str, str] = Field(default_factory=dict)


class JobEvent(BaseModel):
    """One entry of a job's event log."""

    model_config = ConfigDict(frozen=True)

    id: str
    created_at: datetime
    level: Literal["info", "warning", "error"] = "info"
    message: str
    type: Literal["message", "metrics"] = "message"
    step: int | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    """Step metrics carried by the event, under :class:`Metric`'s names."""
    total_steps: int | None = None
    """Steps the whole run takes, where the event says so (OpenAI's metrics events do)."""


class Metric(BaseModel):
    """Metrics at one training step.

    Names are normalized across providers: ``train_loss``, ``valid_loss``,
    ``train_accuracy`` (mean token accuracy), ``valid_accuracy``, ``learning_rate``,
    ``grad_norm``, ``tokens_per_second``, ``epoch``; reinforcement fine-tuning's
    ``train_reward`` and ``valid_reward`` (the mean grader reward), ``train_reasoning_tokens``
    and ``valid_reasoning_tokens``.
    """

    model_config = ConfigDict(frozen=True)

    step: int
    values: dict[str, float]
    created_at: datetime | None = None


class Checkpoint(BaseModel):
    """An intermediate model saved during a job, usable as a model."""

    model_config = ConfigDict(frozen=True)

    id: str
    job_id: str
    step: int
    model: str
    """Model id to chat with (or path, for local providers)."""
    metrics: dict[str, float] = Field(default_factory=dict)
    created_at: datetime | None = None


class _Watch:
    """What :meth:`Job.wait` and its async twin share: the progress bar, status logging,
    the growing poll interval and the deadline."""

    def __init__(
        self,
        label: str,
        *,
        timeout: float | None,
        poll_interval: float,
        max_poll_interval: float,
        progress: bool | None,
    ) -> None:
        from ftsdk.progress import progress_bar

        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.timeout, self.interval, self.max_interval = timeout, poll_interval, max_poll_interval
        self.last_status: JobStatus | None = None
        self.bar = progress_bar(desc=label, enabled=progress)

    @staticmethod
    def arrived(
        new: list[JobEvent],
        events: list[JobEvent],
        on_event: Callable[[JobEvent], None] | None,
    ) -> None:
        """Keep the new events and hand each to ``on_event``."""
        events.extend(new)
        if on_event is not None:
            for event in new:
                on_event(event)

    def show(self, state: JobState, events: list[JobEvent]) -> bool:
        """Show the job's progress; whether it has ended."""
        postfix: dict[str, Any] = {"status": state.status.value}
        losses = [e.metrics["train_loss"] for e in events if "train_loss" in e.metrics]
        if losses:
            postfix["loss"] = f"{losses[-1]:.4f}"
        steps = [e.step for e in events if e.step is not None]
        step = state.step if state.step is not None else (steps[-1] if steps else None)
        total = state.total_steps
        if total is None:  # some services say it in their metrics events only
            total = next((e.total_steps for e in reversed(events) if e.total_steps), None)
        if total is not None:
            self.bar.total = total
        if step is not None:
            self.bar.n = step
        self.bar.set_postfix(postfix)
        if state.status != self.last_status:
            log.info("job %s is %s (%s)", state.id, state.status.value, state.raw_status)
            self.last_status = state.status
        return state.status.is_terminal

    def next_interval(self, state: JobState) -> float:
        """Seconds to sleep before the next poll; :class:`Timeout` past the deadline."""
        if self.deadline is not None and time.monotonic() + self.interval > self.deadline:
            raise Timeout(
                f"job {state.id} still {state.status.value} after {self.timeout}s",
                provider=state.provider,
            )
        interval = self.interval
        self.interval = min(self.interval * 1.5, self.max_interval)
        return interval

    def close(self) -> None:
        """Close the progress bar."""
        self.bar.close()


def _failure(job: Job | AsyncJob) -> JobFailed:
    state = job.state
    reason = state.error.message if state.error else None
    return JobFailed(
        f"job {state.id} ended {state.status.value}" + (f": {reason}" if reason else ""),
        job=job,
        reason=reason,
        provider=state.provider,
        code=state.error.code if state.error else None,
    )


_ModelT_co = TypeVar("_ModelT_co", covariant=True)


class _ModelSource(Protocol[_ModelT_co]):
    """A client, as far as a job handle needs it to make its model's handle."""

    def model(self, model_id: str, **info: Any) -> _ModelT_co: ...


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_ClientT = TypeVar("_ClientT", bound="_ModelSource[Any]")
_HandleT = TypeVar("_HandleT", bound=_Identified)


class _JobView(Generic[_ClientT, _HandleT]):
    """The state of a job handle, flattened; shared by :class:`Job` and its async twin,
    which differ in their client (``_ClientT``) and its model handles (``_HandleT``)."""

    def __init__(self, client: _ClientT, state: JobState) -> None:
        self._client = client
        self.state = state
        self._events: list[JobEvent] = []
        self._read = 0  # how many of self._events the user has been handed
        self._model: _HandleT | None = None

    @property
    def model(self) -> _HandleT | None:
        """The fine-tuned model, once the job has succeeded."""
        if self.state.result_model is None:
            return None
        if self._model is None or self._model.id != self.state.result_model:
            self._model = self._client.model(
                self.state.result_model, base_model=self.state.base_model, job_id=self.id
            )
        return self._model

    @property
    def id(self) -> str:
        """The provider's job id."""
        return self.state.id

    @property
    def provider(self) -> str:
        """The provider's registered name."""
        return self.state.provider

    @property
    def status(self) -> JobStatus:
        """The normalized status at the last refresh."""
        return self.state.status

    @property
    def raw_status(self) -> str:
        """The provider's own status word at the last refresh."""
        return self.state.raw_status

    @property
    def error(self) -> JobError | None:
        """Why the job failed, in the provider's words."""
        return self.state.error

    def _take(self, new: list[JobEvent], *, all: bool) -> list[JobEvent]:
        """Add fetched events; return the ones this handle has not returned (or all)."""
        self._events.extend(new)
        start = 0 if all else self._read
        self._read = len(self._events)
        return list(self._events[start:])

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.id} provider={self.provider} status={self.status.value}>"
        )


class Job(_JobView["Client", "Model"]):
    """A handle to a training run on any provider.

    Get one from :meth:`ftsdk.Client.train` or re-attach from any process with
    :meth:`ftsdk.Client.job`::

        job = ftsdk.client("openai").job("ftjob-abc123")
        job.wait()
        print(job.model.chat("Hello").content)
    """

    # -- operations ------------------------------------------------------------------
    def refresh(self) -> Job:
        """Read the job's current state from the provider."""
        self.state = self._client.call(self._client.provider.get_job, self.id)
        return self

    def cancel(self) -> Job:
        """Cancel the job."""
        self.state = self._client.call(self._client.provider.cancel_job, self.id)
        return self

    def pause(self) -> Job:
        """Pause the job; :meth:`resume` continues it from where it stopped."""
        self.state = self._client.call(self._client.provider.pause_job, self.id)
        return self

    def resume(self) -> Job:
        """Resume a paused job."""
        self.state = self._client.call(self._client.provider.resume_job, self.id)
        return self

    def _fetch_events(self) -> list[JobEvent]:
        after = self._events[-1].id if self._events else None
        return self._client.call(self._client.provider.list_events, self.id, after=after)

    def events(self, *, all: bool = False) -> list[JobEvent]:
        """Events in chronological order that this handle has not returned before.

        :param all: return every event since the job started instead.
        """
        return self._take(self._fetch_events(), all=all)

    def metrics(self) -> list[Metric]:
        """Every step's metrics so far, by step."""
        found = self._client.call(self._client.provider.list_metrics, self.id)
        return sorted(found, key=lambda m: m.step)

    def checkpoints(self) -> list[Checkpoint]:
        """The job's checkpoints, by step."""
        found = self._client.call(self._client.provider.list_checkpoints, self.id)
        return sorted(found, key=lambda c: c.step)

    def wait(
        self,
        *,
        timeout: float | None = None,
        poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
        progress: bool | None = None,
        raise_on_failure: bool = True,
        on_event: Callable[[JobEvent], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Job:
        """Block until the job succeeds, fails or is cancelled.

        Polls with an interval that grows from ``poll_interval`` to ``max_poll_interval``;
        shows a progress bar on a terminal (status, step, latest loss) and logs status
        changes otherwise. Every status but succeeded, failed and cancelled is waited
        through, ``paused`` included.

        :param timeout: seconds to wait at most; :class:`ftsdk.errors.Timeout` after that.
        :param progress: force the progress bar on or off.
        :param raise_on_failure: raise :class:`ftsdk.errors.JobFailed` when the job ends
            in any state but ``succeeded``.
        :param on_event: called with each new event as it arrives, oldest first
            (``ftsdk jobs watch`` prints them).
        :returns: this job, in its final state.
        """
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
                self.refresh()
                if with_events:
                    watch.arrived(self._fetch_events(), self._events, on_event)
                if watch.show(self.state, self._events):
                    break
                sleep(watch.next_interval(self.state))
        finally:
            watch.close()
        if raise_on_failure and self.status != JobStatus.SUCCEEDED:
            raise _failure(self)
        return self


class AsyncJob(_JobView["AsyncClient", "AsyncModel"]):
    """The async twin of :class:`Job`: the same handle, its calls awaited.

    Get one from :meth:`ftsdk.AsyncClient.train` or :meth:`ftsdk.AsyncClient.job`.
    """

    # -- operations ------------------------------------------------------------------
    async def refresh(self) -> AsyncJob:
        """Read the job's current state from the provider."""
        self.state = await self._client.call(self._client.provider.aget_job, self.id)
        return self

    async def cancel(self) -> AsyncJob:
        """Cancel the job."""
        self.state = await self._client.call(self._client.provider.acancel_job, self.id)
        return self

    async def pause(self) -> AsyncJob:
        """Pause the job; :meth:`resume` continues it from where it stopped."""
        self.state = await self._client.call(self._client.provider.apause_job, self.id)
        return self

    async def resume(self) -> AsyncJob:
        """Resume a paused job."""
        self.state = await self._client.call(self._client.provider.aresume_job, self.id)
        return self

    async def _fetch_events(self) -> list[JobEvent]:
        after = self._events[-1].id if self._events else None
        return await self._client.call(self._client.provider.alist_events, self.id, after=after)

    async def events(self, *, all: bool = False) -> list[JobEvent]:
        """Events in chronological order that this handle has not returned before.

        :param all: return every event since the job started instead.
        """
        return self._take(await self._fetch_events(), all=all)

    async def metrics(self) -> list[Metric]:
        """Every step's metrics so far, by step."""
        found = await self._client.call(self._client.provider.alist_metrics, self.id)
        return sorted(found, key=lambda m: m.step)

    async def checkpoints(self) -> list[Checkpoint]:
        """The job's checkpoints, by step."""
        found = await self._client.call(self._client.provider.alist_checkpoints, self.id)
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
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> AsyncJob:
        """Await the end of the job; see :meth:`Job.wait` (``sleep`` is awaited,
        ``asyncio.sleep`` by default)."""
        import asyncio

        nap = asyncio.sleep if sleep is None else sleep
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
                await nap(watch.next_interval(self.state))
        finally:
            watch.close()
        if raise_on_failure and self.status != JobStatus.SUCCEEDED:
            raise _failure(self)
        return self
