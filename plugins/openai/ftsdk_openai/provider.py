"""The OpenAI provider: fine-tuning and inference on the OpenAI API with the official client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, SecretStr

from ftsdk import (
    Capabilities,
    ChatChunk,
    ChatParams,
    ChatResponse,
    Checkpoint,
    DataFormat,
    FileRef,
    JobError,
    JobEvent,
    JobSpec,
    JobState,
    JobStatus,
    Metric,
    ModelInfo,
    Operation,
    Provider,
    ProviderOptions,
    TrainingRequest,
    Usage,
    errors,
)
from ftsdk.credentials import resolve_secret, resolve_setting
from ftsdk.datarules import DataRules
from ftsdk.graders import OPENAI_RFT
from ftsdk_openai.errors import translated
from ftsdk_openai.limits import check_chat_params, check_job_spec, checked_id
from ftsdk_openai.methods import check_method_grader, method_body, method_of
from ftsdk_openai.paging import pages
from ftsdk_openai.uploads import Uploader

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent

__all__ = ["IDEMPOTENCY_KEY", "OpenAIOptions", "OpenAIProvider"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
IDEMPOTENCY_KEY = "ftsdk_idempotency_key"
"""Metadata key holding the core's idempotency key, found again before creating a job."""
MAX_JOBS_SCANNED = 1000
"""Jobs read at most when looking for the one a lost create made (a service that ignores
the metadata filter lists every job)."""
EVENT_LEVELS = {"info": "info", "warn": "warning", "warning": "warning", "error": "error"}
"""``FineTuningJobEvent.level`` (``info``, ``warn``, ``error``) in ftsdk's words."""

STATUSES = {
    "validating_files": JobStatus.VALIDATING,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "paused": JobStatus.PAUSED,
    "succeeded": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
}
METRIC_NAMES = {
    "train_loss": "train_loss",
    "valid_loss": "valid_loss",
    "train_mean_token_accuracy": "train_accuracy",
    "valid_mean_token_accuracy": "valid_accuracy",
    "full_valid_loss": "full_valid_loss",
    "full_valid_mean_token_accuracy": "full_valid_accuracy",
    "train_reward_mean": "train_reward",
    "valid_reward_mean": "valid_reward",
    "train_reasoning_tokens_mean": "train_reasoning_tokens",
    "valid_reasoning_tokens_mean": "valid_reasoning_tokens",
}


class OpenAIOptions(ProviderOptions):
    """Keys accepted in ``JobSpec.provider_options`` for OpenAI."""

    integrations: list[dict[str, Any]] = Field(default_factory=list)
    """Passed through as the job's ``integrations``, e.g.
    ``[{"type": "wandb", "wandb": {"project": "my-project"}}]``."""


def omit() -> Any:
    """openai's marker for an argument left out."""
    import openai

    return openai.omit


def _when(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _whole(data: object, key: str) -> int | None:
    """``data[key]`` when ``data`` is a dict holding a whole number there."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _metrics(data: object) -> dict[str, float]:
    if not isinstance(data, dict):
        return {}
    return {
        ours: float(data[theirs])
        for theirs, ours in METRIC_NAMES.items()
        if isinstance(data.get(theirs), (int, float))
    }


class OpenAIProvider(Provider):
    """OpenAI: files and the Uploads API, SFT, DPO and reinforcement jobs, events,
    checkpoints, pause, resume, cancel, chat (streamed too), and deleting fine-tuned models.

    :param api_key: ``OPENAI_API_KEY`` when not given.
    :param base_url: ``OPENAI_BASE_URL``, else the public API.
    :param upload_threshold: files at least this many bytes use the multipart Uploads API.
    :param upload_part_size: bytes per part (at most 64 MB).
    :param upload_concurrency: parts sent at once.
    :param timeout: seconds for one HTTP request.
    """

    name = "openai"
    display_name = "OpenAI"
    capabilities = Capabilities(
        methods=frozenset({"sft", "dpo", "reinforcement"}),
        data_formats=frozenset({DataFormat.CHAT, DataFormat.PREFERENCE, DataFormat.REINFORCEMENT}),
        hyperparameters={
            "sft": frozenset({"epochs", "batch_size", "learning_rate_multiplier"}),
            "dpo": frozenset({"epochs", "batch_size", "learning_rate_multiplier", "beta"}),
            "reinforcement": frozenset(
                {
                    "epochs",
                    "batch_size",
                    "learning_rate_multiplier",
                    "reasoning_effort",
                    "compute_multiplier",
                    "eval_interval",
                    "eval_samples",
                }
            ),
        },
        operations=frozenset(
            {
                Operation.TRAIN,
                Operation.UPLOAD,
                Operation.LIST_JOBS,
                Operation.CANCEL,
                Operation.PAUSE,
                Operation.RESUME,
                Operation.EVENTS,
                Operation.METRICS,
                Operation.CHECKPOINTS,
                Operation.CHAT,
                Operation.STREAM,
                Operation.DELETE_MODEL,
            }
        ),
    )
    Options = OpenAIOptions
    data_rules = DataRules.from_package("ftsdk_openai")
    statuses: ClassVar[dict[str, JobStatus]] = STATUSES
    """The service's status words, normalized."""
    events_newest_first: ClassVar[bool] = True
    """Whether the events endpoint pages from the newest event (OpenAI) or the oldest."""
    credential_env_vars = (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
    )

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        upload_threshold: int = 32 * 1024 * 1024,
        upload_part_size: int = 16 * 1024 * 1024,
        upload_concurrency: int = 8,
        timeout: float = 120.0,
        home: str | Path | None = None,
    ) -> None:
        self.api_key = resolve_secret(
            api_key, ["OPENAI_API_KEY"], provider=self.name, argument="api_key"
        )
        self.base_url = resolve_setting(base_url, ["OPENAI_BASE_URL"]) or DEFAULT_BASE_URL
        self.organization = resolve_setting(organization, ["OPENAI_ORG_ID"])
        self.project = resolve_setting(project, ["OPENAI_PROJECT_ID"])
        self._connect(
            timeout=timeout,
            home=home,
            upload_threshold=upload_threshold,
            upload_part_size=upload_part_size,
            upload_concurrency=upload_concurrency,
        )

    def _connect(
        self,
        *,
        timeout: float,
        home: str | Path | None,
        upload_threshold: int,
        upload_part_size: int,
        upload_concurrency: int,
    ) -> None:
        """Settings every OpenAI-compatible provider shares (subclasses call it too)."""
        self.timeout = timeout
        self._lock = threading.Lock()
        self._deletes_in_doubt: set[str] = set()
        """Models whose delete went unanswered: "not found" on a retry means deleted."""
        self._openai: openai.OpenAI | None = None
        self._async: tuple[asyncio.AbstractEventLoop, openai.AsyncOpenAI] | None = None
        home_dir = Path(
            resolve_setting(str(home) if home else None, ["FTSDK_HOME"]) or "~/.cache/ftsdk"
        ).expanduser()
        self.uploader = Uploader(
            self._client,
            self.name,
            threshold=upload_threshold,
            part_size=upload_part_size,
            concurrency=upload_concurrency,
            state_dir=home_dir / self.name / "uploads",
        )

    def _make_client(self) -> openai.OpenAI:
        """Build the SDK client; subclasses return ``AzureOpenAI`` and the like."""
        import openai

        assert self.api_key is not None
        return openai.OpenAI(
            api_key=self.api_key.get_secret_value(),
            base_url=self.base_url,
            organization=self.organization,
            project=self.project,
            max_retries=0,
            timeout=self.timeout,
        )

    def _client(self) -> openai.OpenAI:
        """The SDK client (thread-safe, shared), its retries off: the core retries."""
        with self._lock:
            if self._openai is None:
                self._openai = self._make_client()
            return self._openai

    def close(self) -> None:
        with self._lock:
            if self._openai is not None:
                self._openai.close()
                self._openai = None

    async def aclose(self) -> None:
        """Close the async client, then the sync one. An async client belongs to the
        event loop it was made on: one from a loop that has ended cannot be awaited here
        and is dropped (its connections went with that loop)."""
        with self._lock:
            held, self._async = self._async, None
        if held is not None and held[0] is asyncio.get_running_loop():
            await held[1].close()
        await asyncio.to_thread(self.close)

    def _check_can_upload(self) -> None:
        """Hook: raise before uploading when a known limit would refuse it."""

    def check_spec(self, spec: JobSpec) -> None:
        """Refuse, before any upload, values OpenAI's API does not accept (a grader too)."""
        check_job_spec(spec, provider=self.name)
        check_method_grader(spec.method, OPENAI_RFT, provider=self.name)

    def _id(self, value: str, field: str = "fine_tuning_job_id") -> str:
        """``value`` checked to go into a URL as one id (before any request)."""
        return checked_id(value, field=field, provider=self.name)

    def _check_can_create_job(self, request: TrainingRequest) -> None:
        """Hook: raise before creating a job when a known limit would refuse it."""

    # -- files -----------------------------------------------------------------------
    def upload_file(self, path: Path, *, purpose: str, content_hash: str) -> FileRef:
        self._check_can_upload()
        f = self.uploader.upload(path, purpose=purpose, content_hash=content_hash)
        return FileRef(
            id=f.id,
            provider=self.name,
            filename=f.filename,
            bytes=f.bytes,
            status="processed",
            content_hash=content_hash,
            created_at=_when(f.created_at),
        )

    # -- jobs ------------------------------------------------------------------------
    def _state(self, job: FineTuningJob) -> JobState:
        raw = str(job.status)
        error = None
        if job.error is not None and (job.error.message or job.error.code):
            error = JobError(
                message=job.error.message or "", code=job.error.code or None, param=job.error.param
            )
        method = method_of(job.method.type if job.method is not None else None)
        metadata = {k: v for k, v in (job.metadata or {}).items() if k != IDEMPOTENCY_KEY}
        return JobState(
            id=job.id,
            provider=self.name,
            status=self.statuses.get(raw, JobStatus.RUNNING),
            raw_status=raw,
            base_model=job.model,
            method=method,
            created_at=_when(job.created_at),
            finished_at=_when(job.finished_at),
            estimated_finish=_when(job.estimated_finish),
            trained_tokens=job.trained_tokens,
            error=error,
            result_model=job.fine_tuned_model,
            metadata=metadata,
        )

    def _find_job(self, key: str) -> FineTuningJob | None:
        """The job an earlier attempt created with idempotency key ``key``, if any.

        The metadata filter narrows the list where the service honours it; what comes back
        is checked all the same (a service that ignores the filter lists other jobs)."""
        client = self._client()
        with translated(self.name):
            listed = client.fine_tuning.jobs.list(limit=100, metadata={IDEMPOTENCY_KEY: key})
            for scanned, job in enumerate(listed, start=1):
                if (job.metadata or {}).get(IDEMPOTENCY_KEY) == key:
                    return job
                if scanned >= MAX_JOBS_SCANNED:
                    break
        return None

    def create_job(self, request: TrainingRequest) -> JobState:
        spec = request.spec
        client = self._client()
        found = self._find_job(request.idempotency_key)
        if found is not None:
            return self._state(found)
        self.check_spec(spec)  # also when called without Client.check
        self._check_can_create_job(request)
        options = request.options
        assert isinstance(options, OpenAIOptions)
        body: dict[str, Any] = {
            "model": spec.base_model,
            "training_file": request.training_file.id,
            "method": method_body(spec.method),
            "metadata": {**spec.metadata, IDEMPOTENCY_KEY: request.idempotency_key},
        }
        if request.validation_file is not None:
            body["validation_file"] = request.validation_file.id
        if spec.suffix is not None:
            body["suffix"] = spec.suffix
        if spec.seed is not None:
            body["seed"] = spec.seed
        if options.integrations:
            body["integrations"] = options.integrations
        with translated(self.name):
            return self._state(client.fine_tuning.jobs.create(**body))

    def get_job(self, job_id: str) -> JobState:
        job_id = self._id(job_id)
        with translated(self.name):
            return self._state(self._client().fine_tuning.jobs.retrieve(job_id))

    def list_jobs(self, *, limit: int) -> list[JobState]:
        with translated(self.name):
            page = self._client().fine_tuning.jobs.list(limit=limit)
            return [self._state(job) for job in page.data]

    def cancel_job(self, job_id: str) -> JobState:
        job_id = self._id(job_id)
        with translated(self.name):
            return self._state(self._client().fine_tuning.jobs.cancel(job_id))

    def pause_job(self, job_id: str) -> JobState:
        job_id = self._id(job_id)
        with translated(self.name):
            return self._state(self._client().fine_tuning.jobs.pause(job_id))

    def resume_job(self, job_id: str) -> JobState:
        job_id = self._id(job_id)
        with translated(self.name):
            return self._state(self._client().fine_tuning.jobs.resume(job_id))

    def _event_pages(self, job_id: str, after: str | None) -> Iterator[FineTuningJobEvent]:
        """The job's events page after page, from just after ``after``."""
        client = self._client()

        def fetch(cursor: str | None) -> Any:
            with translated(self.name):
                return client.fine_tuning.jobs.list_events(
                    job_id, limit=100, after=cursor or after or omit()
                )

        return pages(fetch, what=f"events of {job_id}")

    def _events_newest_first(self, job_id: str, stop_at: str | None) -> list[FineTuningJobEvent]:
        """Pages of events, newest first, until ``stop_at`` (excluded) or the oldest."""
        seen: list[FineTuningJobEvent] = []
        for event in self._event_pages(job_id, None):
            if event.id == stop_at:
                break
            seen.append(event)
        return seen

    def _events_oldest_first(self, job_id: str, after: str | None) -> list[FineTuningJobEvent]:
        """Pages of events, oldest first, from just after ``after``."""
        return list(self._event_pages(job_id, after))

    def list_events(self, job_id: str, *, after: str | None) -> list[JobEvent]:
        job_id = self._id(job_id)
        if after is not None:
            after = self._id(after, "after")
        if self.events_newest_first:
            events = list(reversed(self._events_newest_first(job_id, after)))
        else:
            events = self._events_oldest_first(job_id, after)
        return [
            JobEvent(
                id=e.id,
                created_at=_when(e.created_at) or datetime.now(UTC),
                level=EVENT_LEVELS.get(str(e.level), "info"),
                message=e.message,
                type="metrics" if e.type == "metrics" else "message",
                step=_whole(e.data, "step"),
                metrics=_metrics(e.data),
                total_steps=_whole(e.data, "total_steps"),
            )
            for e in events
        ]

    def list_metrics(self, job_id: str) -> list[Metric]:
        return [
            Metric(step=e.step, values=e.metrics, created_at=e.created_at)
            for e in self.list_events(job_id, after=None)
            if e.type == "metrics" and e.step is not None
        ]

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        job_id = self._id(job_id)
        client = self._client()

        def fetch(cursor: str | None) -> Any:
            with translated(self.name):
                return client.fine_tuning.jobs.checkpoints.list(
                    job_id, limit=100, after=cursor or omit()
                )

        found = list(pages(fetch, what=f"checkpoints of {job_id}"))
        return [
            Checkpoint(
                id=c.id,
                job_id=job_id,
                step=c.step_number,
                model=c.fine_tuned_model_checkpoint,
                metrics=_metrics(c.metrics.model_dump()),
                created_at=_when(c.created_at),
            )
            for c in found
        ]

    # -- models ----------------------------------------------------------------------
    def _chat_request(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> dict[str, Any]:
        check_chat_params(params, provider=self.name)
        request: dict[str, Any] = {"model": self._chat_model(model), "messages": messages}
        if params.max_tokens is not None:
            request["max_completion_tokens"] = params.max_tokens
        for name in ("temperature", "top_p", "seed", "stop"):
            if getattr(params, name) is not None:
                request[name] = getattr(params, name)
        return request

    def _chat_response(self, answer: ChatCompletion) -> ChatResponse:
        if not answer.choices:  # spec-valid: the array has no minItems
            raise errors.FtsdkError(
                f"{self.display_name} answered the chat request with no choices "
                "(choices: []): there is no message to return. A content filter or a "
                "gateway in between can answer so; try again or check the prompt.",
                provider=self.name,
                request_id=answer.id or None,
            )
        choice, usage = answer.choices[0], answer.usage
        return ChatResponse(
            content=choice.message.content or "",
            refusal=choice.message.refusal or None,
            model=answer.model,
            finish_reason=choice.finish_reason,
            usage=Usage(
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
            ),
        )

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        with translated(self.name):
            answer = self._client().chat.completions.create(
                **self._chat_request(model, messages, params)
            )
        return self._chat_response(answer)

    @staticmethod
    def _chat_chunk(chunk: ChatCompletionChunk) -> ChatChunk:
        choice = chunk.choices[0] if chunk.choices else None  # none on the usage chunk
        usage = chunk.usage
        return ChatChunk(
            content=(choice.delta.content or "") if choice else "",
            refusal=(choice.delta.refusal or "") if choice else "",
            finish_reason=choice.finish_reason if choice else None,
            usage=None
            if usage is None
            else Usage(
                prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens
            ),
            model=chunk.model or None,
        )

    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ChatChunk]:
        with translated(self.name):
            stream = self._client().chat.completions.create(
                **self._chat_request(model, messages, params),
                stream=True,
                **self._stream_options(),
            )
        try:
            # A failure while reading (the connection dropped) is translated as at the start.
            with translated(self.name):
                for chunk in stream:
                    piece = self._chat_chunk(chunk)
                    # The opening role chunk holds nothing: the core retries up to the first
                    # chunk we yield, so a drop before any text is retried.
                    if piece.content or piece.refusal or piece.finish_reason or piece.usage:
                        yield piece
        finally:
            stream.close()  # closed early too: the HTTP response goes, the server stops

    # -- async twins on AsyncOpenAI (the core runs the other methods in threads) -------
    def _make_async_client(self) -> openai.AsyncOpenAI:
        """Build the async SDK client; subclasses return ``AsyncAzureOpenAI``."""
        import openai

        assert self.api_key is not None
        return openai.AsyncOpenAI(
            api_key=self.api_key.get_secret_value(),
            base_url=self.base_url,
            organization=self.organization,
            project=self.project,
            max_retries=0,
            timeout=self.timeout,
        )

    def _aclient(self) -> openai.AsyncOpenAI:
        """The async client of the running event loop (an async client is bound to one)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._async is None or self._async[0] is not loop:
                self._async = (loop, self._make_async_client())
            return self._async[1]

    async def aget_job(self, job_id: str) -> JobState:
        """Async twin of :meth:`get_job`."""
        job_id = self._id(job_id)
        with translated(self.name):
            return self._state(await self._aclient().fine_tuning.jobs.retrieve(job_id))

    async def alist_jobs(self, *, limit: int) -> list[JobState]:
        """Async twin of :meth:`list_jobs`."""
        with translated(self.name):
            page = await self._aclient().fine_tuning.jobs.list(limit=limit)
        return [self._state(job) for job in page.data]

    async def acancel_job(self, job_id: str) -> JobState:
        """Async twin of :meth:`cancel_job`."""
        job_id = self._id(job_id)
        with translated(self.name):
            return self._state(await self._aclient().fine_tuning.jobs.cancel(job_id))

    async def apause_job(self, job_id: str) -> JobState:
        """Async twin of :meth:`pause_job`."""
        job_id = self._id(job_id)
        with translated(self.name):
            return self._state(await self._aclient().fine_tuning.jobs.pause(job_id))

    async def aresume_job(self, job_id: str) -> JobState:
        """Async twin of :meth:`resume_job`."""
        job_id = self._id(job_id)
        with translated(self.name):
            return self._state(await self._aclient().fine_tuning.jobs.resume(job_id))

    async def achat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        """Async twin of :meth:`chat`."""
        with translated(self.name):
            answer = await self._aclient().chat.completions.create(
                **self._chat_request(model, messages, params)
            )
        return self._chat_response(answer)

    async def astream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> AsyncIterator[ChatChunk]:
        """Async twin of :meth:`stream_chat`, on ``AsyncOpenAI``."""
        with translated(self.name):
            stream = await self._aclient().chat.completions.create(
                **self._chat_request(model, messages, params),
                stream=True,
                **self._stream_options(),
            )
        try:
            with translated(self.name):
                async for chunk in stream:
                    piece = self._chat_chunk(chunk)
                    if piece.content or piece.refusal or piece.finish_reason or piece.usage:
                        yield piece  # as stream_chat
        finally:
            await stream.close()

    def _chat_model(self, model: ModelInfo) -> str:
        """The ``model`` to name in a chat request."""
        return model.id

    def _stream_options(self) -> dict[str, Any]:
        """Hook: what a streamed chat request adds (usage in the last chunk, on OpenAI)."""
        return {"stream_options": {"include_usage": True}}

    def delete_model(self, model: ModelInfo) -> None:
        model_id = self._id(model.id, "model")
        try:
            with translated(self.name):
                answer = self._client().models.delete(model_id)
        except errors.NotFound:
            with self._lock:
                in_doubt = model_id in self._deletes_in_doubt
                self._deletes_in_doubt.discard(model_id)
            if in_doubt:
                return  # an earlier attempt deleted it; only its answer was lost
            raise
        except errors.FtsdkError as err:
            if err.retryable and err.status_code is None:  # no answer: it may have happened
                with self._lock:
                    self._deletes_in_doubt.add(model_id)
            raise
        with self._lock:
            self._deletes_in_doubt.discard(model_id)
        if not answer.deleted:  # DeleteModelResponse.deleted is a boolean, not always true
            raise errors.FtsdkError(
                f"{self.display_name} answered deleted: false for model {model_id!r}: "
                "it was not deleted",
                provider=self.name,
            )
