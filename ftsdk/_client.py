"""``ftsdk.client(name)``: one provider, behind the same API as every other; and its async
twin, ``ftsdk.async_client(name)``, side by side."""

from __future__ import annotations

import dataclasses
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from pydantic import ValidationError

from ftsdk import budget
from ftsdk.budget import Budget
from ftsdk.capabilities import Capabilities, Operation
from ftsdk.credentials import redact
from ftsdk.datarules import DataRules
from ftsdk.dataset import Dataset
from ftsdk.dataset.sources import why_not_a_file
from ftsdk.errors import ConfigurationError, FtsdkError, InvalidRequest, UnsupportedOperation
from ftsdk.files import FileRef
from ftsdk.home import ftsdk_home, make_folder
from ftsdk.jobs import AsyncJob, Job
from ftsdk.models import AsyncModel, Model, ModelInfo
from ftsdk.provider import (
    Provider,
    ProviderOptions,
    TrainingRequest,
    _in_thread,
    contract_method,
)
from ftsdk.registry import ProviderRegistry
from ftsdk.retry import RetryPolicy
from ftsdk.spec import RFT, DataSource, JobSpec

__all__ = [
    "AsyncClient",
    "Client",
    "as_spec",
    "async_client",
    "client",
    "provider_name",
    "resolve_provider",
    "scrub",
]

P = ParamSpec("P")
T = TypeVar("T")


def _field_path(prefix: str, err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    path = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    return path, first["msg"]


def as_spec(spec: JobSpec | None, fields: dict[str, Any]) -> JobSpec:
    """``spec``, or one built from ``fields`` (errors name the field)."""
    if spec is None:
        try:
            return JobSpec(**fields)
        except ValidationError as err:
            path, why = _field_path("", err)
            raise InvalidRequest(f"{path}: {why}", field=path) from err
    if fields:
        raise TypeError("pass a JobSpec or its fields, not both")
    return spec


def scrub(err: FtsdkError, provider: Provider) -> None:
    """Replace every secret ``provider`` holds by ``***`` in ``err``'s message."""
    clean = redact(err.message, provider.secrets())
    if clean != err.message:
        err.message = clean
        err.args = (clean, *err.args[1:])


class _BaseClient:
    """What :class:`Client` and :class:`AsyncClient` share: the provider, the retry policy,
    the capability check and every check made before a provider is called."""

    def __init__(self, provider: Provider, *, retry: RetryPolicy | None = None) -> None:
        self.provider = provider
        """The provider instance every call goes to."""
        self.retry = retry or RetryPolicy.from_env()
        """How failed calls are retried."""

    @property
    def name(self) -> str:
        """The provider's registered name."""
        return self.provider.name

    @property
    def capabilities(self) -> Capabilities:
        """What the provider supports, as configured (see
        :meth:`ftsdk.Provider.active_capabilities`)."""
        return self.provider.active_capabilities()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.name!r}>"

    def require(self, operation: Operation) -> None:
        """Raise :class:`UnsupportedOperation` unless the provider declares ``operation``."""
        if not self.capabilities.supports(operation):
            supported = sorted(self.capabilities.operations)
            listed = ", ".join(supported) or "nothing yet"
            raise UnsupportedOperation(
                f"{self.name} does not support {operation.value!r}; it supports: {listed}",
                operation=operation.value,
                supported=supported,
                provider=self.name,
            )

    def _require_method(self, method: Callable[..., object]) -> None:
        """``require`` the operation of ``method``, a contract method of this provider."""
        self.require(contract_method(self.provider, method).operation)

    # -- checks (blocking: they read the data) ---------------------------------------
    def _check(self, spec: JobSpec, *, check_data: bool) -> ProviderOptions:
        self.require(Operation.TRAIN)
        method = spec.method.type
        if method not in self.capabilities.methods:
            raise UnsupportedOperation(
                f"{self.name} does not train with {method!r}; it trains with: "
                f"{', '.join(sorted(self.capabilities.methods))}",
                operation=f"train:{method}",
                supported=sorted(self.capabilities.methods),
                provider=self.name,
            )
        accepted = self.capabilities.accepted_hyperparameters(method)
        for field in spec.method.explicit():
            if field not in accepted:
                raise InvalidRequest(
                    f"method.{field}: {self.name} does not accept {field!r} for {method}; "
                    f"it accepts: {', '.join(sorted(accepted)) or 'none'}",
                    field=f"method.{field}",
                    provider=self.name,
                )
        try:
            options = self.provider.Options.model_validate(spec.provider_options)
        except ValidationError as err:
            path, why = _field_path("provider_options", err)
            raise InvalidRequest(
                f"{path}: {why} (options of {self.name})", field=path, provider=self.name
            ) from err
        self.provider.check_spec(spec)
        if check_data:
            _check_files(spec)
            self._check_data(spec)
        return options

    def _check_data(self, spec: JobSpec) -> None:
        from ftsdk.dataset import Target
        from ftsdk.dataset.grader_fields import missing_item_fields

        rules = self.provider.data_rules
        target = None
        if rules is not None:
            target = Target.from_rules(
                self.name, rules, spec.base_model, method=spec.method.type, any_model=True
            )
            if isinstance(spec.method, RFT) and not target.formats:
                raise _not_trained_with(self.name, rules, spec)
        # The provider's minimum number of examples is a rule of the training file only.
        held_out = None if target is None else dataclasses.replace(target, min_examples=None)
        for source, checked in ((spec.training_data, target), (spec.validation_data, held_out)):
            if source is None or isinstance(source, FileRef):
                continue
            dataset = source if isinstance(source, Dataset) else Dataset.load(source)
            report = dataset.validate(checked, epochs=spec.method.epochs)
            if isinstance(spec.method, RFT):  # each prompt holds what the grader reads
                report.extend(missing_item_fields(dataset.examples(), spec.method.grader))
            report.raise_for_errors()

    def _check_budget(self, spec: JobSpec, max_cost: float | Budget | None) -> None:
        """Refuse a run estimated over its limit, before anything is uploaded."""
        limit = budget.resolve(max_cost, spec)
        if limit is not None:
            budget.check(self.name, spec, limit)

    def _local_file(self, data: DataSource) -> FileRef | tuple[Path, str]:
        """``data`` as it stands when it needs no upload (a :class:`FileRef`, or any data
        for a provider that reads local files); else the JSONL file to upload and its
        content hash."""
        if isinstance(data, FileRef):
            return data
        dataset = data if isinstance(data, Dataset) else Dataset.load(data)
        path = _jsonl_path(dataset)
        content_hash = dataset.content_hash()
        if not self.capabilities.supports(Operation.UPLOAD):
            return FileRef(
                id=str(path.resolve()),
                filename=path.name,
                bytes=path.stat().st_size,
                content_hash=content_hash,
                path=path.resolve(),
                status="processed",
            )
        return path, content_hash

    def _model_info(self, model_id: str, info: dict[str, Any]) -> ModelInfo:
        kind = info.pop("kind", "fine-tuned" if info.get("job_id") else "base")
        return ModelInfo(id=model_id, provider=self.name, kind=kind, **info)


def _request(
    spec: JobSpec, options: ProviderOptions, training: FileRef, validation: FileRef | None
) -> TrainingRequest:
    return TrainingRequest(
        spec=spec,
        training_file=training,
        validation_file=validation,
        options=options,
        idempotency_key=f"ftsdk-{uuid.uuid4().hex}",
    )


def _not_trained_with(provider: str, rules: DataRules, spec: JobSpec) -> InvalidRequest:
    """The error for a base model the provider lists but does not train with the method
    (reinforcement trains reasoning models only), naming the models that do."""
    method = spec.method.type
    wanted = rules.method_formats(method)
    able = sorted(name for name, model in rules.models.items() if model.formats & wanted)
    return InvalidRequest(
        f"base_model: {provider} does not train {spec.base_model!r} with {method}; "
        f"models that it trains so: {', '.join(able) or 'none'}",
        field="base_model",
        provider=provider,
    )


def _check_files(spec: JobSpec) -> None:
    for label, source in (
        ("training_data", spec.training_data),
        ("validation_data", spec.validation_data),
    ):
        why = why_not_a_file(Path(source)) if isinstance(source, (str, Path)) else None
        if why is not None:  # missing, a directory, a FIFO: said as such
            raise InvalidRequest(f"{label}: {why}", field=label)


def _jsonl_path(dataset: Dataset) -> Path:
    try:
        path = dataset.path
    except InvalidRequest:  # not a JSONL file as it stands: write one, by content
        stem = Path(dataset.name).stem or "data"
        folder = ftsdk_home() / "datasets" / dataset.content_hash()[:16]
        path = folder / f"{stem}.jsonl"
        if not path.is_file():
            make_folder(folder)  # a ConfigurationError naming it, if it cannot be
            dataset.write(path)
        return path
    if not path.is_file():
        raise InvalidRequest(f"no such file: {path}", field="training_data")
    return path


class Client(_BaseClient):
    """One provider, with capability checks, retries and secret scrubbing around every call.

    >>> # import ftsdk
    >>> # client = ftsdk.client("openai")          # OPENAI_API_KEY from the environment
    >>> # job = client.train(ftsdk.JobSpec(base_model="gpt-4.1-mini-2025-04-14",
    >>> #                                  training_data="train.jsonl"))
    >>> # job.wait().model.chat("Hello").content
    """

    def close(self) -> None:
        """Release the provider's connections."""
        self.provider.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one way the core calls a provider ---------------------------------------
    def call(self, method: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``method``, a contract method of :attr:`provider` (``client.call(
        client.provider.get_job, job_id)``), as the core calls every one: its operation
        checked against the capabilities, retried by :attr:`retry`, the provider's secrets
        scrubbed from its errors. For handles and test kits.

        :raises UnsupportedOperation: the provider does not declare the operation.
        :raises TypeError: ``method`` is not a contract method of this provider.
        """
        self._require_method(method)

        def scrubbed() -> T:
            # Scrub before the retry layer sees the error: its log lines must be clean too.
            try:
                return method(*args, **kwargs)
            except FtsdkError as err:
                scrub(err, self.provider)
                raise

        return self.retry.call(scrubbed)

    def call_stream(
        self, method: Callable[P, Iterator[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> Iterator[T]:
        """What ``method``, a streaming contract method (``stream_chat``), yields: opening
        it, up to its first item, is retried like :meth:`call`; an error after that ends
        the stream, scrubbed. The operation is checked at once."""
        self._require_method(method)
        return self._streamed(lambda: method(*args, **kwargs))

    def _streamed(self, open_items: Callable[[], Iterator[T]]) -> Iterator[T]:
        def opened() -> tuple[list[T], Iterator[T]]:
            try:
                items = iter(open_items())
                return list(_first(items)), items
            except FtsdkError as err:
                scrub(err, self.provider)
                raise

        first, items = self.retry.call(opened)
        try:
            yield from first
            if first:
                yield from items
        except FtsdkError as err:
            scrub(err, self.provider)
            raise
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    # -- checks ----------------------------------------------------------------------
    def check(self, spec: JobSpec, *, check_data: bool = True) -> ProviderOptions:
        """Run every check :meth:`train` runs before it uploads anything, without calling
        the provider's service: a spec ``check`` passes is not refused by ``train`` for
        anything these checks can see.

        :param check_data: also check the data files (they exist and are files; every
            example against the provider's rules, see :meth:`check_data`). ``False``
            checks the spec alone, like ``train(check_data=False)``.
        :returns: the validated provider options.
        :raises UnsupportedOperation: the provider cannot train, or not this method.
        :raises InvalidRequest: a hyperparameter or option the provider does not take, a
            value outside the range its service accepts, or anything else the provider
            refuses whatever the data (:meth:`Provider.check_spec`), with its field path in
            ``.field``; a data file that is missing or not a file.
        :raises InvalidDataset: the data breaks the provider's rules, every problem listed.
        """
        return self._check(spec, check_data=check_data)

    def check_data(self, spec: JobSpec) -> None:
        """Validate the spec's local training and validation data against the rules this
        provider declares (:attr:`Provider.data_rules`) for the base model and method
        (format, roles, tokens per example, minimum examples, file size) and raise
        :class:`InvalidDataset` listing every problem with its file, line and field. A
        provider that declares no rules gets the format checks only. Data already uploaded
        (a :class:`FileRef`) is not checked again."""
        self._check_data(spec)

    # -- files -----------------------------------------------------------------------
    def upload(self, data: DataSource) -> FileRef:
        """Upload training data (a path or a :class:`Dataset`) and return its :class:`FileRef`;
        a :class:`FileRef` is returned as it is. Data that is not a JSONL file as it stands
        (CSV, Parquet, records, a split) is written to JSONL under the ftsdk home first."""
        local = self._local_file(data)
        if isinstance(local, FileRef):
            return local
        path, content_hash = local
        return self.call(
            self.provider.upload_file, path, purpose="fine-tune", content_hash=content_hash
        )

    # -- jobs ------------------------------------------------------------------------
    def train(
        self,
        spec: JobSpec | None = None,
        /,
        *,
        check_data: bool = True,
        max_cost: float | Budget | None = None,
        **fields: Any,
    ) -> Job:
        """Check ``spec``, upload its data, start the job and return its handle.

        Pass a :class:`JobSpec`, or its fields as keyword arguments. Everything that can be
        checked is checked before anything is uploaded: the spec against the provider's
        capabilities, and (unless ``check_data=False``) the data against its rules.

        :param max_cost: the most the run may cost, USD (or a :class:`ftsdk.Budget` with the
            prices ftsdk does not know); else the spec's ``max_cost``, else
            ``FTSDK_MAX_COST``. Over it, :class:`~ftsdk.errors.BudgetExceeded` is raised
            before anything is uploaded; a run billed by the hour is watched and paused at
            it (:mod:`ftsdk.budget`).
        """
        spec = as_spec(spec, fields)
        options = self.check(spec, check_data=check_data)
        if not check_data:
            _check_files(spec)
        self._check_budget(spec, max_cost)
        training = self.upload(spec.training_data)
        validation = None if spec.validation_data is None else self.upload(spec.validation_data)
        request = _request(spec, options, training, validation)
        job = Job(self, self.call(self.provider.create_job, request))
        budget.watch_if_time_billed(self, job, spec, max_cost)
        return job

    def job(self, job_id: str) -> Job:
        """Re-attach to a job by id, from any process."""
        return Job(self, self.call(self.provider.get_job, job_id))

    def jobs(self, *, limit: int = 20) -> list[Job]:
        """The newest jobs first."""
        return [Job(self, state) for state in self.call(self.provider.list_jobs, limit=limit)]

    # -- models ----------------------------------------------------------------------
    def model(self, model_id: str, **info: Any) -> Model:
        """A handle to a model by id (base or fine-tuned), for chat and clean-up."""
        return Model(self, self._model_info(model_id, info))

    def models(self, *, limit: int = 20) -> list[Model]:
        """The models your fine-tuning jobs made, newest first: one per succeeded job among
        the newest ``limit`` jobs (each knows its base model and job)."""
        return [job.model for job in self.jobs(limit=limit) if job.model is not None]


class AsyncClient(_BaseClient):
    """The async twin of :class:`Client`: one provider, every call awaited.

    Calls go to the provider's async methods (``aget_job``, ``achat``, ...): native where
    the provider has an async client, the sync ones in worker threads otherwise. Checks,
    retries and secret scrubbing are as in :class:`Client`::

        async with ftsdk.async_client("openai") as client:
            job = await client.train(base_model="gpt-4.1-mini-2025-04-14",
                                     training_data="train.jsonl")
            await job.wait()
    """

    async def aclose(self) -> None:
        """Release the provider's connections, its async clients' included."""
        await self.provider.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the one way the core calls a provider ---------------------------------------
    async def call(
        self, method: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Await ``method``, an async contract method of :attr:`provider`
        (``await client.call(client.provider.aget_job, job_id)``), as
        :meth:`Client.call` calls a sync one."""
        self._require_method(method)

        async def scrubbed() -> T:
            try:
                return await method(*args, **kwargs)
            except FtsdkError as err:
                scrub(err, self.provider)
                raise

        async for retrying in self.retry.async_retrying():
            with retrying:
                return await scrubbed()
        raise AssertionError("unreachable: the retry policy re-raises the last error")

    def call_stream(
        self, method: Callable[P, AsyncIterator[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> AsyncIterator[T]:
        """What ``method``, a streaming async contract method (``astream_chat``), yields,
        as :meth:`Client.call_stream`. The operation is checked at once."""
        self._require_method(method)
        return self._streamed(lambda: method(*args, **kwargs))

    async def _streamed(self, open_items: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
        async def opened() -> tuple[list[T], AsyncIterator[T]]:
            try:
                items = open_items()
                return [item async for item in _afirst(items)], items
            except FtsdkError as err:
                scrub(err, self.provider)
                raise

        first: list[T] = []
        items: AsyncIterator[T] | None = None
        async for retrying in self.retry.async_retrying():
            with retrying:
                first, items = await opened()
        assert items is not None
        try:
            for item in first:
                yield item
            if first:
                async for item in items:
                    yield item
        except FtsdkError as err:
            scrub(err, self.provider)
            raise
        finally:
            close = getattr(items, "aclose", None)
            if close is not None:
                await close()

    # -- checks ----------------------------------------------------------------------
    async def check(self, spec: JobSpec, *, check_data: bool = True) -> ProviderOptions:
        """See :meth:`Client.check`; run in a worker thread (it reads the data)."""
        return await _in_thread(self._check, spec, check_data=check_data)

    async def check_data(self, spec: JobSpec) -> None:
        """See :meth:`Client.check_data`; run in a worker thread."""
        await _in_thread(self._check_data, spec)

    # -- files -----------------------------------------------------------------------
    async def upload(self, data: DataSource) -> FileRef:
        """Upload training data (see :meth:`Client.upload`)."""
        local = await _in_thread(self._local_file, data)
        if isinstance(local, FileRef):
            return local
        path, content_hash = local
        return await self.call(
            self.provider.aupload_file, path, purpose="fine-tune", content_hash=content_hash
        )

    # -- jobs ------------------------------------------------------------------------
    async def train(
        self,
        spec: JobSpec | None = None,
        /,
        *,
        check_data: bool = True,
        max_cost: float | Budget | None = None,
        **fields: Any,
    ) -> AsyncJob:
        """Check, upload, start the job (see :meth:`Client.train`, ``max_cost`` included)."""
        spec = as_spec(spec, fields)
        options = await self.check(spec, check_data=check_data)
        if not check_data:
            _check_files(spec)
        await _in_thread(self._check_budget, spec, max_cost)
        training = await self.upload(spec.training_data)
        validation = (
            None if spec.validation_data is None else await self.upload(spec.validation_data)
        )
        request = _request(spec, options, training, validation)
        state = await self.call(self.provider.acreate_job, request)
        if budget.resolve(max_cost, spec) is not None:
            # The watch polls from a thread of its own, through a sync client on this provider.
            watched = Client(self.provider, retry=self.retry)
            budget.watch_if_time_billed(watched, Job(watched, state), spec, max_cost)
        return AsyncJob(self, state)

    async def job(self, job_id: str) -> AsyncJob:
        """Re-attach to a job by id, from any process."""
        return AsyncJob(self, await self.call(self.provider.aget_job, job_id))

    async def jobs(self, *, limit: int = 20) -> list[AsyncJob]:
        """The newest jobs first."""
        states = await self.call(self.provider.alist_jobs, limit=limit)
        return [AsyncJob(self, state) for state in states]

    # -- models ----------------------------------------------------------------------
    def model(self, model_id: str, **info: Any) -> AsyncModel:
        """A handle to a model by id (base or fine-tuned), for chat and clean-up."""
        return AsyncModel(self, self._model_info(model_id, info))

    async def models(self, *, limit: int = 20) -> list[AsyncModel]:
        """The models your fine-tuning jobs made, newest first (see :meth:`Client.models`)."""
        return [job.model for job in await self.jobs(limit=limit) if job.model is not None]


def _first(items: Iterator[T]) -> Iterator[T]:
    """The first item of ``items``, if any (pulled now, so opening errors show here)."""
    for item in items:
        yield item
        return


async def _afirst(items: AsyncIterator[T]) -> AsyncIterator[T]:
    async for item in items:
        yield item
        return


def provider_name(name: str | None) -> str:
    """``name``, else ``FTSDK_PROVIDER``, else the stored default (``ftsdk config set
    provider NAME``).

    :raises ConfigurationError: none of them is set, saying how to choose one.
    """
    if name:
        return name
    from ftsdk.config import default_provider
    from ftsdk.plugins import providers

    found = default_provider()
    if found:
        return found
    installed = ", ".join(providers().names()) or "none (pip install ftsdk-openai, ...)"
    raise ConfigurationError(
        "no provider given: pass one (-p NAME on the command line, ftsdk.client(NAME) in "
        "Python), set FTSDK_PROVIDER=NAME, or store a default with "
        f"`ftsdk config set provider NAME`; installed: {installed}"
    )


def resolve_provider(
    name: str | None, registry: ProviderRegistry | None, config: dict[str, Any]
) -> Provider:
    """Build the provider registered as ``name`` (see :func:`provider_name` when it is
    ``None``) with its own settings."""
    name = provider_name(name)
    if registry is None:
        from ftsdk.plugins import providers

        registry = providers()
    provider_cls = registry.get(name)
    try:
        inspect.signature(provider_cls).bind(**config)
    except TypeError as err:
        raise ConfigurationError(
            f"{name} does not take these settings: {err}; it takes: "
            f"{', '.join(inspect.signature(provider_cls).parameters) or 'none'}",
            provider=name,
        ) from None
    return provider_cls(**config)


def client(
    name: str | None = None,
    *,
    registry: ProviderRegistry | None = None,
    retry: RetryPolicy | None = None,
    **config: Any,
) -> Client:
    """A client for the provider registered as ``name``; without one, ``FTSDK_PROVIDER``
    or the stored default (``ftsdk config set provider NAME``).

    >>> # ftsdk.client("openai", api_key="sk-...")

    :param config: the provider's own settings (credentials, endpoint...); credentials
        left out are read from the provider's usual environment variables.
    :param registry: look the provider up here instead of the installed plugins.
    :param retry: the retry policy (default: :meth:`RetryPolicy.from_env`).
    """
    return Client(resolve_provider(name, registry, config), retry=retry)


def async_client(
    name: str | None = None,
    *,
    registry: ProviderRegistry | None = None,
    retry: RetryPolicy | None = None,
    **config: Any,
) -> AsyncClient:
    """An :class:`AsyncClient` for the provider registered as ``name`` (settings as for
    :func:`client`)."""
    return AsyncClient(resolve_provider(name, registry, config), retry=retry)
