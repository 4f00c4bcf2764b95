"""``ftsdk.client(name)``: one provider, behind the same API as every other."""

from __future__ import annotations

import dataclasses
import inspect
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ftsdk import budget
from ftsdk.budget import Budget
from ftsdk.capabilities import Capabilities, Operation
from ftsdk.credentials import redact
from ftsdk.dataset import Dataset
from ftsdk.dataset.sources import why_not_a_file
from ftsdk.errors import ConfigurationError, FtsdkError, InvalidRequest, UnsupportedOperation
from ftsdk.files import FileRef
from ftsdk.home import ftsdk_home, make_folder
from ftsdk.jobs import Job, JobState
from ftsdk.models import Model, ModelInfo
from ftsdk.provider import Provider, ProviderOptions, TrainingRequest
from ftsdk.registry import ProviderRegistry
from ftsdk.retry import RetryPolicy
from ftsdk.spec import DataSource, JobSpec

__all__ = ["Client", "as_spec", "client", "provider_name", "resolve_provider", "scrub"]


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


class Client:
    """One provider, with capability checks, retries and secret scrubbing around every call.

    >>> # import ftsdk
    >>> # client = ftsdk.client("openai")          # OPENAI_API_KEY from the environment
    >>> # job = client.train(ftsdk.JobSpec(base_model="gpt-4.1-mini-2025-04-14",
    >>> #                                  training_data="train.jsonl"))
    >>> # job.wait().model.chat("Hello").content
    """

    def __init__(self, provider: Provider, *, retry: RetryPolicy | None = None) -> None:
        self.provider = provider
        self.retry = retry or RetryPolicy.from_env()

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
        return f"<Client provider={self.name!r}>"

    def close(self) -> None:
        """Release the provider's connections."""
        self.provider.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one way the core calls a provider -------------------------------------------
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

    def _call(self, operation: Operation, method: str, /, *args: Any, **kwargs: Any) -> Any:
        self.require(operation)
        fn: Callable[..., Any] = getattr(self.provider, method)

        def scrubbed() -> Any:
            # Scrub before the retry layer sees the error: its log lines must be clean too.
            try:
                return fn(*args, **kwargs)
            except FtsdkError as err:
                scrub(err, self.provider)
                raise

        return self.retry.call(scrubbed)

    def _stream(
        self, operation: Operation, method: str, /, *args: Any, **kwargs: Any
    ) -> Iterator[Any]:
        """What a provider's generator ``method`` yields: opening it (up to its first item)
        is retried like any call; an error after that ends the stream, scrubbed."""
        self.require(operation)
        fn: Callable[..., Iterator[Any]] = getattr(self.provider, method)
        end = object()

        def opened() -> tuple[Any, Iterator[Any]]:
            try:
                items = iter(fn(*args, **kwargs))
                return next(items, end), items
            except FtsdkError as err:
                scrub(err, self.provider)
                raise

        first, items = self.retry.call(opened)
        if first is end:
            return
        try:
            yield first
            yield from items
        except FtsdkError as err:
            scrub(err, self.provider)
            raise
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    # -- checks ------------------------------------------------------------------------
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
            self._check_files(spec)
            self.check_data(spec)
        return options

    @staticmethod
    def _check_files(spec: JobSpec) -> None:
        for label, source in (
            ("training_data", spec.training_data),
            ("validation_data", spec.validation_data),
        ):
            why = why_not_a_file(Path(source)) if isinstance(source, (str, Path)) else None
            if why is not None:  # missing, a directory, a FIFO: said as such
                raise InvalidRequest(f"{label}: {why}", field=label)

    # -- files -------------------------------------------------------------------------
    def upload(self, data: DataSource) -> FileRef:
        """Upload training data (a path or a :class:`Dataset`) and return its :class:`FileRef`;
        a :class:`FileRef` is returned as it is. Data that is not a JSONL file as it stands
        (CSV, Parquet, records, a split) is written to JSONL under the ftsdk home first."""
        if isinstance(data, FileRef):
            return data
        dataset = data if isinstance(data, Dataset) else Dataset.load(data)
        path = self._jsonl_path(dataset)
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
        ref: FileRef = self._call(
            Operation.UPLOAD, "upload_file", path, purpose="fine-tune", content_hash=content_hash
        )
        return ref

    @staticmethod
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

    def check_data(self, spec: JobSpec) -> None:
        """Validate the spec's local training and validation data against the rules this
        provider declares (:attr:`Provider.data_rules`) for the base model and method
        (format, roles, tokens per example, minimum examples, file size) and raise
        :class:`InvalidDataset` listing every problem with its file, line and field. A
        provider that declares no rules gets the format checks only. Data already uploaded
        (a :class:`FileRef`) is not checked again."""
        from ftsdk.dataset import Target

        rules = self.provider.data_rules
        target = None
        if rules is not None:
            target = Target.from_rules(
                self.name, rules, spec.base_model, method=spec.method.type, any_model=True
            )
        # The provider's minimum number of examples is a rule of the training file only.
        held_out = None if target is None else dataclasses.replace(target, min_examples=None)
        for source, checked in ((spec.training_data, target), (spec.validation_data, held_out)):
            if source is None or isinstance(source, FileRef):
                continue
            dataset = source if isinstance(source, Dataset) else Dataset.load(source)
            dataset.validate(checked, epochs=spec.method.epochs).raise_for_errors()

    # -- jobs --------------------------------------------------------------------------
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
        request = self._prepare(spec, check_data=check_data, max_cost=max_cost)
        state: JobState = self._call(Operation.TRAIN, "create_job", request)
        job = Job(self, state)
        budget.watch_if_time_billed(self, job, spec, max_cost)
        return job

    def _prepare(
        self, spec: JobSpec, *, check_data: bool, max_cost: float | Budget | None = None
    ) -> TrainingRequest:
        """Every check, then the uploads: the request for ``create_job``."""
        options = self.check(spec, check_data=check_data)
        if not check_data:
            self._check_files(spec)
        limit = budget.resolve(max_cost, spec)
        if limit is not None:
            budget.check(self.name, spec, limit)
        training = self.upload(spec.training_data)
        validation = None if spec.validation_data is None else self.upload(spec.validation_data)
        return TrainingRequest(
            spec=spec,
            training_file=training,
            validation_file=validation,
            options=options,
            idempotency_key=f"ftsdk-{uuid.uuid4().hex}",
        )

    def job(self, job_id: str) -> Job:
        """Re-attach to a job by id, from any process."""
        state: JobState = self._call(Operation.TRAIN, "get_job", job_id)
        return Job(self, state)

    def jobs(self, *, limit: int = 20) -> list[Job]:
        """The newest jobs first."""
        states: list[JobState] = self._call(Operation.LIST_JOBS, "list_jobs", limit=limit)
        return [Job(self, state) for state in states]

    # -- models ------------------------------------------------------------------------
    def model(self, model_id: str, **info: Any) -> Model:
        """A handle to a model by id (base or fine-tuned), for chat and clean-up."""
        kind = info.pop("kind", "fine-tuned" if info.get("job_id") else "base")
        return Model(self, ModelInfo(id=model_id, provider=self.name, kind=kind, **info))

    def models(self, *, limit: int = 20) -> list[Model]:
        """The models your fine-tuning jobs made, newest first: one per succeeded job among
        the newest ``limit`` jobs (each knows its base model and job)."""
        return [job.model for job in self.jobs(limit=limit) if job.model is not None]


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
