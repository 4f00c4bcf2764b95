"""The provider contract: the base class every provider plugin implements.

Each operation's methods come in a sync and an async form, declared side by side on
:class:`Provider` and marked with the :class:`~ftsdk.Operation` they belong to. A provider
implements the sync ones; the async ones run them in a worker thread unless the provider
overrides them (the OpenAI and Azure plugins do, on ``AsyncOpenAI``). :data:`CONTRACT`
lists the pairs, read from the marks, so nothing names a method by a string; the registry
checks every override against it when a provider is registered.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr

from ftsdk.capabilities import Capabilities, Operation
from ftsdk.datarules import DataRules
from ftsdk.errors import UnsupportedOperation
from ftsdk.files import FilePurpose, FileRef
from ftsdk.jobs import Checkpoint, JobEvent, JobState, Metric
from ftsdk.models import ChatChunk, ChatParams, ChatResponse, ModelInfo
from ftsdk.spec import JobSpec

__all__ = [
    "CONTRACT",
    "ContractMethod",
    "Provider",
    "ProviderOptions",
    "TrainingRequest",
    "contract_method",
    "methods_of",
]

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])

_MARK = "__ftsdk_operation__"


def _operation(op: Operation) -> Callable[[F], F]:
    """Mark a :class:`Provider` method as one of the methods behind ``op``."""

    def mark(fn: F) -> F:
        setattr(fn, _MARK, op)
        return fn

    return mark


async def _in_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    import asyncio  # here: the sync-only path never pays for asyncio

    return await asyncio.to_thread(fn, *args, **kwargs)


async def _in_threads(items: Iterator[T]) -> AsyncIterator[T]:
    """A sync iterator read in worker threads, an item at a time; closed in one too."""

    def step() -> list[T]:
        for item in items:
            return [item]
        return []

    try:
        while got := await _in_thread(step):
            yield got[0]
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            await _in_thread(close)


class ProviderOptions(BaseModel):
    """Base of a provider's ``Options``: the keys allowed in ``JobSpec.provider_options``.

    Unknown keys are refused (``extra="forbid"``), so a typo is an error, not a no-op.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


class TrainingRequest(BaseModel):
    """What :meth:`Provider.create_job` receives: the spec with its data resolved."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    spec: JobSpec
    training_file: FileRef
    validation_file: FileRef | None = None
    options: ProviderOptions
    idempotency_key: str
    """Stays the same across retries of one ``train()`` call: look for a job carrying it
    before creating another, so a retried create never makes two jobs."""


class Provider(abc.ABC):
    """Base of every provider. Subclass it, declare, implement what you declare.

    Class attributes to set:

    - ``name``: registry name, matching ``[a-z][a-z0-9-]*``.
    - ``capabilities``: a :class:`Capabilities`; the core refuses undeclared operations
      before calling, so every method below is reached only when declared.
    - ``Options``: a :class:`ProviderOptions` subclass for ``JobSpec.provider_options``.
    - ``data_rules``: a :class:`ftsdk.datarules.DataRules` (formats, limits, prices,
      tokenizer), usually ``DataRules.from_package(__package__)``; the core enforces
      exactly these before uploading. ``None``: only the generic format checks.
    - ``credential_env_vars``: the environment variables the provider reads, for docs.

    ``__init__`` takes the provider's own keyword arguments (credentials, endpoints);
    keep secrets as ``SecretStr`` attributes so :meth:`secrets` finds them.

    Implement the sync method of each declared operation (``get_job``, ``chat``, ...).
    Its async twin (``aget_job``, ``achat``, ...) runs it in a worker thread; override the
    twin, with the same parameters, where your client is async (``astream_chat`` is an
    async generator). Override :meth:`aclose` too when you hold async connections.
    """

    name: ClassVar[str]
    display_name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    Options: ClassVar[type[ProviderOptions]] = ProviderOptions
    data_rules: ClassVar[DataRules | None] = None
    credential_env_vars: ClassVar[tuple[str, ...]] = ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"

    @classmethod
    def engines(cls) -> dict[str, str | None]:
        """Where the provider's jobs can run (``provider_options["engine"]``), each with
        ``None`` when it can run here, else how to install what it needs; empty when jobs
        run one way only. ``ftsdk providers`` lists them."""
        return {}

    def secrets(self) -> list[str]:
        """Secret values this instance holds; the core scrubs them from error messages.

        The default collects every ``SecretStr`` attribute of the instance.
        """
        return [v.get_secret_value() for v in vars(self).values() if isinstance(v, SecretStr)]

    def active_capabilities(self) -> Capabilities:
        """What this instance supports: the class's declaration, or less of it.

        Override to narrow the declaration by configuration (an API version without pause,
        say); never to widen it. The core checks every call against this.
        """
        return self.capabilities

    def check_spec(self, spec: JobSpec) -> None:  # noqa: B027 - optional hook
        """Refuse, before anything is uploaded, a spec the service would refuse: a value
        outside the ranges its API accepts. Raise :class:`ftsdk.errors.InvalidRequest`
        naming the field (``.field``) and the allowed range. Called by
        :meth:`ftsdk.Client.check` after the capabilities and options are checked."""

    def _unsupported(self, operation: Operation) -> UnsupportedOperation:
        supported = sorted(self.active_capabilities().operations)
        return UnsupportedOperation(
            f"{self.name} does not support {operation.value!r}",
            operation=operation.value,
            supported=supported,
            provider=self.name,
        )

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; called by :meth:`ftsdk.Client.close`."""

    async def aclose(self) -> None:
        """Release connections, async clients' included; called by
        :meth:`ftsdk.AsyncClient.aclose`. The default runs :meth:`close` in a thread."""
        await _in_thread(self.close)

    # -- files -----------------------------------------------------------------------
    @_operation(Operation.UPLOAD)
    def upload_file(self, path: Path, *, purpose: FilePurpose, content_hash: str) -> FileRef:
        """[upload] Store the file at ``path``; reuse a stored file with ``content_hash``."""
        raise self._unsupported(Operation.UPLOAD)

    @_operation(Operation.UPLOAD)
    async def aupload_file(self, path: Path, *, purpose: FilePurpose, content_hash: str) -> FileRef:
        """[upload] Async :meth:`upload_file`."""
        return await _in_thread(self.upload_file, path, purpose=purpose, content_hash=content_hash)

    # -- jobs ------------------------------------------------------------------------
    @_operation(Operation.TRAIN)
    def create_job(self, request: TrainingRequest) -> JobState:
        """[train] Start a job. Must be idempotent on ``request.idempotency_key``."""
        raise self._unsupported(Operation.TRAIN)

    @_operation(Operation.TRAIN)
    async def acreate_job(self, request: TrainingRequest) -> JobState:
        """[train] Async :meth:`create_job`."""
        return await _in_thread(self.create_job, request)

    @_operation(Operation.TRAIN)
    def get_job(self, job_id: str) -> JobState:
        """[train] The job's current state."""
        raise self._unsupported(Operation.TRAIN)

    @_operation(Operation.TRAIN)
    async def aget_job(self, job_id: str) -> JobState:
        """[train] Async :meth:`get_job`."""
        return await _in_thread(self.get_job, job_id)

    @_operation(Operation.LIST_JOBS)
    def list_jobs(self, *, limit: int) -> list[JobState]:
        """[list_jobs] The newest jobs first, at most ``limit``."""
        raise self._unsupported(Operation.LIST_JOBS)

    @_operation(Operation.LIST_JOBS)
    async def alist_jobs(self, *, limit: int) -> list[JobState]:
        """[list_jobs] Async :meth:`list_jobs`."""
        return await _in_thread(self.list_jobs, limit=limit)

    @_operation(Operation.CANCEL)
    def cancel_job(self, job_id: str) -> JobState:
        """[cancel] Cancel the job."""
        raise self._unsupported(Operation.CANCEL)

    @_operation(Operation.CANCEL)
    async def acancel_job(self, job_id: str) -> JobState:
        """[cancel] Async :meth:`cancel_job`."""
        return await _in_thread(self.cancel_job, job_id)

    @_operation(Operation.PAUSE)
    def pause_job(self, job_id: str) -> JobState:
        """[pause] Pause the job, keeping what it has learnt."""
        raise self._unsupported(Operation.PAUSE)

    @_operation(Operation.PAUSE)
    async def apause_job(self, job_id: str) -> JobState:
        """[pause] Async :meth:`pause_job`."""
        return await _in_thread(self.pause_job, job_id)

    @_operation(Operation.RESUME)
    def resume_job(self, job_id: str) -> JobState:
        """[resume] Continue a paused job from where it stopped."""
        raise self._unsupported(Operation.RESUME)

    @_operation(Operation.RESUME)
    async def aresume_job(self, job_id: str) -> JobState:
        """[resume] Async :meth:`resume_job`."""
        return await _in_thread(self.resume_job, job_id)

    @_operation(Operation.EVENTS)
    def list_events(self, job_id: str, *, after: str | None) -> list[JobEvent]:
        """[events] Events after the event id ``after`` (all when ``None``), oldest first."""
        raise self._unsupported(Operation.EVENTS)

    @_operation(Operation.EVENTS)
    async def alist_events(self, job_id: str, *, after: str | None) -> list[JobEvent]:
        """[events] Async :meth:`list_events`."""
        return await _in_thread(self.list_events, job_id, after=after)

    @_operation(Operation.METRICS)
    def list_metrics(self, job_id: str) -> list[Metric]:
        """[metrics] Every step's metrics so far."""
        raise self._unsupported(Operation.METRICS)

    @_operation(Operation.METRICS)
    async def alist_metrics(self, job_id: str) -> list[Metric]:
        """[metrics] Async :meth:`list_metrics`."""
        return await _in_thread(self.list_metrics, job_id)

    @_operation(Operation.CHECKPOINTS)
    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        """[checkpoints] The job's checkpoints."""
        raise self._unsupported(Operation.CHECKPOINTS)

    @_operation(Operation.CHECKPOINTS)
    async def alist_checkpoints(self, job_id: str) -> list[Checkpoint]:
        """[checkpoints] Async :meth:`list_checkpoints`."""
        return await _in_thread(self.list_checkpoints, job_id)

    # -- models ----------------------------------------------------------------------
    @_operation(Operation.CHAT)
    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        """[chat] Answer a conversation with ``model``."""
        raise self._unsupported(Operation.CHAT)

    @_operation(Operation.CHAT)
    async def achat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        """[chat] Async :meth:`chat`."""
        return await _in_thread(self.chat, model, messages, params)

    @_operation(Operation.STREAM)
    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ChatChunk]:
        """[stream] Answer a conversation piece by piece, as the model writes it: each chunk
        holds the new text; the last one holds the ``finish_reason`` and the ``usage``. Errors
        before the first chunk are retried by the core; later ones end the stream."""
        raise self._unsupported(Operation.STREAM)

    @_operation(Operation.STREAM)
    async def astream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> AsyncIterator[ChatChunk]:
        """[stream] Async :meth:`stream_chat`: an async generator. The default reads the
        sync one in worker threads, a piece at a time."""
        chunks = await _in_thread(lambda: iter(self.stream_chat(model, messages, params)))
        async for chunk in _in_threads(chunks):
            yield chunk

    @_operation(Operation.DEPLOY)
    def deploy_model(
        self, model: ModelInfo, *, name: str | None, options: Mapping[str, Any]
    ) -> ModelInfo:
        """[deploy] Deploy ``model``; return the deployed model (``kind="deployment"``)."""
        raise self._unsupported(Operation.DEPLOY)

    @_operation(Operation.DEPLOY)
    async def adeploy_model(
        self, model: ModelInfo, *, name: str | None, options: Mapping[str, Any]
    ) -> ModelInfo:
        """[deploy] Async :meth:`deploy_model`."""
        return await _in_thread(self.deploy_model, model, name=name, options=options)

    @_operation(Operation.DEPLOY)
    def undeploy_model(self, model: ModelInfo) -> None:
        """[deploy] Remove the deployment of ``model``."""
        raise self._unsupported(Operation.DEPLOY)

    @_operation(Operation.DEPLOY)
    async def aundeploy_model(self, model: ModelInfo) -> None:
        """[deploy] Async :meth:`undeploy_model`."""
        await _in_thread(self.undeploy_model, model)

    @_operation(Operation.DELETE_MODEL)
    def delete_model(self, model: ModelInfo) -> None:
        """[delete_model] Delete a fine-tuned model."""
        raise self._unsupported(Operation.DELETE_MODEL)

    @_operation(Operation.DELETE_MODEL)
    async def adelete_model(self, model: ModelInfo) -> None:
        """[delete_model] Async :meth:`delete_model`."""
        await _in_thread(self.delete_model, model)

    @_operation(Operation.PUSH)
    def push_model(self, model: ModelInfo, *, repo_id: str, private: bool) -> str:
        """[push] Upload the model's weights to the Hub repository ``repo_id`` (created if
        needed); return its URL."""
        raise self._unsupported(Operation.PUSH)

    @_operation(Operation.PUSH)
    async def apush_model(self, model: ModelInfo, *, repo_id: str, private: bool) -> str:
        """[push] Async :meth:`push_model`."""
        return await _in_thread(self.push_model, model, repo_id=repo_id, private=private)

    # -- introspection ---------------------------------------------------------------
    @classmethod
    def overrides(cls, fn: Callable[..., object]) -> bool:
        """Whether this class overrides the :class:`Provider` method ``fn``."""
        return getattr(cls, fn.__name__) is not fn

    @classmethod
    def implemented_operations(cls) -> frozenset[Operation]:
        """Operations whose sync methods this class overrides (all of them, for two-method
        ones); their async twins need not be overridden."""
        return frozenset(
            op
            for op, methods in _BY_OPERATION.items()
            if all(cls.overrides(m.sync) for m in methods)
        )

    @classmethod
    def partially_implemented_operations(cls) -> frozenset[Operation]:
        """Operations with some but not all of their sync methods overridden."""
        return frozenset(
            op
            for op, methods in _BY_OPERATION.items()
            if 0 < sum(cls.overrides(m.sync) for m in methods) < len(methods)
        )


@dataclass(frozen=True)
class ContractMethod:
    """One method of the contract: its operation, its sync form and its async twin (the
    :class:`Provider` functions themselves)."""

    operation: Operation
    sync: Callable[..., object]
    async_: Callable[..., object]

    @property
    def streams(self) -> bool:
        """Whether it yields pieces (a generator, and an async generator for the twin)."""
        return inspect.isasyncgenfunction(self.async_)


def _marked(fn: object) -> Operation | None:
    mark = getattr(fn, _MARK, None)
    return mark if isinstance(mark, Operation) else None


def _read_contract() -> tuple[ContractMethod, ...]:
    """The marked methods of :class:`Provider`, each sync one with its ``a``-twin."""
    found: list[ContractMethod] = []
    for name, fn in vars(Provider).items():
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            continue  # an async twin: found from its sync method
        op = _marked(fn)
        if op is None:
            continue
        twin = vars(Provider).get(f"a{name}")
        if twin is None or _marked(twin) is not op:  # a slip here, seen on import
            raise TypeError(f"Provider.{name} has no async twin a{name} marked {op}")
        found.append(ContractMethod(op, fn, twin))
    return tuple(found)


CONTRACT: tuple[ContractMethod, ...] = _read_contract()
"""Every operation method of :class:`Provider`, sync and async, in declaration order."""

_BY_OPERATION: Mapping[Operation, tuple[ContractMethod, ...]] = {
    op: tuple(m for m in CONTRACT if m.operation is op) for op in Operation
}
_BY_NAME: Mapping[str, ContractMethod] = {
    **{m.sync.__name__: m for m in CONTRACT},
    **{m.async_.__name__: m for m in CONTRACT},
}


def contract_method(provider: Provider, method: Callable[..., object]) -> ContractMethod:
    """The contract entry ``method`` is on ``provider``: ``provider.get_job`` gives the
    entry of ``get_job`` and ``aget_job`` (found by identity, so a method replaced on the
    instance, as tests do, is found too).

    :raises TypeError: ``method`` is none of ``provider``'s operation methods.
    """
    name = getattr(getattr(method, "__func__", method), "__name__", "")
    candidates = [name] if name in _BY_NAME else []
    for candidate in [*candidates, *_BY_NAME]:
        if getattr(provider, candidate, None) == method:
            return _BY_NAME[candidate]
    raise TypeError(f"{method!r} is not an operation method of {provider!r}")


def methods_of(operation: Operation) -> tuple[ContractMethod, ...]:
    """The contract methods behind ``operation``."""
    return _BY_OPERATION[operation]
