"""The provider contract: the abstract base every provider plugin implements."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

from ftsdk.capabilities import Capabilities, Operation
from ftsdk.datarules import DataRules
from ftsdk.errors import UnsupportedOperation
from ftsdk.files import FilePurpose, FileRef
from ftsdk.jobs import Checkpoint, JobEvent, JobState, Metric
from ftsdk.models import ChatChunk, ChatParams, ChatResponse, ModelInfo
from ftsdk.spec import JobSpec

__all__ = ["OPERATION_METHODS", "Provider", "ProviderOptions", "TrainingRequest"]

OPERATION_METHODS: Mapping[Operation, tuple[str, ...]] = {
    Operation.TRAIN: ("create_job", "get_job"),
    Operation.UPLOAD: ("upload_file",),
    Operation.LIST_JOBS: ("list_jobs",),
    Operation.CANCEL: ("cancel_job",),
    Operation.PAUSE: ("pause_job",),
    Operation.RESUME: ("resume_job",),
    Operation.EVENTS: ("list_events",),
    Operation.METRICS: ("list_metrics",),
    Operation.CHECKPOINTS: ("list_checkpoints",),
    Operation.CHAT: ("chat",),
    Operation.STREAM: ("stream_chat",),
    Operation.DEPLOY: ("deploy_model", "undeploy_model"),
    Operation.DELETE_MODEL: ("delete_model",),
    Operation.PUSH: ("push_model",),
}
"""The :class:`Provider` methods behind each operation."""


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
    """

    name: ClassVar[str]
    display_name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    Options: ClassVar[type[ProviderOptions]] = ProviderOptions
    data_rules: ClassVar[DataRules | None] = None
    credential_env_vars: ClassVar[tuple[str, ...]] = ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"

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

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; called by :meth:`ftsdk.Client.close`."""

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

    # -- files -----------------------------------------------------------------------
    def upload_file(self, path: Path, *, purpose: FilePurpose, content_hash: str) -> FileRef:
        """[upload] Store the file at ``path``; reuse a stored file with ``content_hash``."""
        raise self._unsupported(Operation.UPLOAD)

    # -- jobs ------------------------------------------------------------------------
    def create_job(self, request: TrainingRequest) -> JobState:
        """[train] Start a job. Must be idempotent on ``request.idempotency_key``."""
        raise self._unsupported(Operation.TRAIN)

    def get_job(self, job_id: str) -> JobState:
        """[train] The job's current state."""
        raise self._unsupported(Operation.TRAIN)

    def list_jobs(self, *, limit: int) -> list[JobState]:
        """[list_jobs] The newest jobs first, at most ``limit``."""
        raise self._unsupported(Operation.LIST_JOBS)

    def cancel_job(self, job_id: str) -> JobState:
        """[cancel] Cancel the job."""
        raise self._unsupported(Operation.CANCEL)

    def pause_job(self, job_id: str) -> JobState:
        """[pause] Pause the job, keeping what it has learnt."""
        raise self._unsupported(Operation.PAUSE)

    def resume_job(self, job_id: str) -> JobState:
        """[resume] Continue a paused job from where it stopped."""
        raise self._unsupported(Operation.RESUME)

    def list_events(self, job_id: str, *, after: str | None) -> list[JobEvent]:
        """[events] Events after the event id ``after`` (all when ``None``), oldest first."""
        raise self._unsupported(Operation.EVENTS)

    def list_metrics(self, job_id: str) -> list[Metric]:
        """[metrics] Every step's metrics so far."""
        raise self._unsupported(Operation.METRICS)

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        """[checkpoints] The job's checkpoints."""
        raise self._unsupported(Operation.CHECKPOINTS)

    # -- models ----------------------------------------------------------------------
    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        """[chat] Answer a conversation with ``model``."""
        raise self._unsupported(Operation.CHAT)

    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ChatChunk]:
        """[stream] Answer a conversation piece by piece, as the model writes it: each chunk
        holds the new text; the last one holds the ``finish_reason`` and the ``usage``. Errors
        before the first chunk are retried by the core; later ones end the stream."""
        raise self._unsupported(Operation.STREAM)

    def deploy_model(
        self, model: ModelInfo, *, name: str | None, options: Mapping[str, Any]
    ) -> ModelInfo:
        """[deploy] Deploy ``model``; return the deployed model (``kind="deployment"``)."""
        raise self._unsupported(Operation.DEPLOY)

    def undeploy_model(self, model: ModelInfo) -> None:
        """[deploy] Remove the deployment of ``model``."""
        raise self._unsupported(Operation.DEPLOY)

    def delete_model(self, model: ModelInfo) -> None:
        """[delete_model] Delete a fine-tuned model."""
        raise self._unsupported(Operation.DELETE_MODEL)

    def push_model(self, model: ModelInfo, *, repo_id: str, private: bool) -> str:
        """[push] Upload the model's weights to the Hub repository ``repo_id`` (created if
        needed); return its URL."""
        raise self._unsupported(Operation.PUSH)

    # -- introspection ---------------------------------------------------------------
    @classmethod
    def implemented_operations(cls) -> frozenset[Operation]:
        """Operations whose methods this class overrides (all of them, for two-method ones)."""
        return frozenset(
            op
            for op, methods in OPERATION_METHODS.items()
            if all(getattr(cls, m) is not getattr(Provider, m) for m in methods)
        )

    @classmethod
    def partially_implemented_operations(cls) -> frozenset[Operation]:
        """Operations with some but not all of their methods overridden."""
        return frozenset(
            op
            for op, methods in OPERATION_METHODS.items()
            if 0 < sum(getattr(cls, m) is not getattr(Provider, m) for m in methods) < len(methods)
        )
