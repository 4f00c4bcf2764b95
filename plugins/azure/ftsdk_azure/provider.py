"""The Azure OpenAI provider: fine-tuning on the data plane, deployment through Azure
Resource Manager, chat on the deployment."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import SecretStr

from ftsdk import (
    Capabilities,
    Checkpoint,
    JobEvent,
    JobSpec,
    JobState,
    JobStatus,
    ModelInfo,
    Operation,
    Provider,
    TrainingRequest,
    errors,
)
from ftsdk.credentials import resolve_secret, resolve_setting
from ftsdk.datarules import DataRules
from ftsdk.graders import AZURE_RFT
from ftsdk_azure.arm import ARM_ENDPOINT, ARM_SCOPE, Deployments, check_name
from ftsdk_azure.entra import token_provider
from ftsdk_azure.files import DEFAULT_FILE_TTL, AzureUploader, first_page
from ftsdk_azure.reading import JOB_STATUSES, checkpoint_of, event_of, field, state_of
from ftsdk_azure.versions import ApiVersion, describe
from ftsdk_openai import OpenAIProvider
from ftsdk_openai.errors import translated
from ftsdk_openai.methods import HYPERPARAMETERS, check_method_grader, method_body
from ftsdk_openai.paging import pages
from ftsdk_openai.provider import IDEMPOTENCY_KEY, OpenAIOptions, omit

if TYPE_CHECKING:
    import openai
    from azure.core.credentials import TokenCredential

__all__ = ["API_VERSION", "TRAINING_TYPES", "AzureOpenAIOptions", "AzureOpenAIProvider"]

API_VERSION = "v1"
"""The default: the v1 API (``/openai/v1``), which trains SFT and DPO, pauses and resumes.
Pass a dated version (``api_version="2024-10-21"``) to use that one."""
TRAINING_TYPES = {"standard": 1, "globalstandard": 2, "developer": 3}
"""ftsdk's training tier names → the ``trainingType`` value sent on the v1 API. Only
``1`` (standard) is confirmed by a live report (BerriAI/litellm PR #24687); the others
follow Azure's tier order (Standard, Global, Developer) and are unverified: see
``docs/providers/azure.md``."""
MAX_JOBS_SCANNED = 2000
"""The most jobs, newest first, looked through for the one a lost create made."""
CLOCK_SKEW = 300.0
"""Seconds a job found again may seem to predate the create that made it (clock skew
between this machine and Azure)."""
JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:.-]{0,255}")
"""What a fine-tuning job id looks like on Azure (``ftjob-`` and 32 hex digits; ``:`` and
``.`` allowed for other shapes): checked before it goes into a URL."""
ARM_API_VERSION = "2024-10-01"
DATA_SCOPE = "https://cognitiveservices.azure.com/.default"
log = logging.getLogger("ftsdk.azure")


class AzureOpenAIOptions(OpenAIOptions):
    """Keys accepted in ``JobSpec.provider_options`` for Azure OpenAI."""

    training_type: Literal["standard", "globalstandard", "developer"] = "standard"
    """Azure's training tier, sent as ``trainingType`` on the v1 API (the dated API has
    no such field): ``standard`` (regional), ``globalstandard`` or ``developer``."""


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI: fine-tuning jobs, ARM deployments, chat on deployments.

    :param endpoint: ``https://<account>.openai.azure.com`` (``AZURE_OPENAI_ENDPOINT``).
    :param api_key: ``AZURE_OPENAI_API_KEY``; without one, Microsoft Entra ID is used.
    :param credential: any azure-identity ``TokenCredential`` for Entra ID (default
        ``DefaultAzureCredential()``); also used for Resource Manager.
    :param api_version: ``"v1"`` (the default; ``OPENAI_API_VERSION``) for the v1 API, or
        a dated data-plane version such as ``"2024-10-21"`` (SFT only, no pause or
        resume). Each version sends only the fields its published description defines.
    :param subscription_id: for deployments (``AZURE_SUBSCRIPTION_ID``).
    :param resource_group: for deployments (``AZURE_RESOURCE_GROUP``).
    :param account: the resource's name (``AZURE_OPENAI_ACCOUNT``; default: the endpoint's
        host name up to its first dot).
    :param max_active_jobs: jobs the resource runs at once (checked before creating one).
    :param max_files: files the resource holds (checked before uploading).
    :param file_ttl: seconds an uploaded file lives on the v1 API (its required
        ``expires_after``); default 30 days.
    """

    name = "azure"
    display_name = "Azure OpenAI"
    capabilities = OpenAIProvider.capabilities.model_copy(
        update={
            "operations": (OpenAIProvider.capabilities.operations | {Operation.DEPLOY})
            - {Operation.DELETE_MODEL},
        }
    )
    Options = AzureOpenAIOptions
    data_rules = DataRules.from_package("ftsdk_azure")
    statuses: ClassVar[dict[str, JobStatus]] = JOB_STATUSES
    events_newest_first: ClassVar[bool] = False
    credential_env_vars = (
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_KEY",  # type: ignore[assignment]
        "OPENAI_API_VERSION",
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_RESOURCE_GROUP",
        "AZURE_OPENAI_ACCOUNT",
        "AZURE_RESOURCE_MANAGER_ENDPOINT",
    )

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        api_key: str | SecretStr | None = None,
        credential: TokenCredential | None = None,
        api_version: str | None = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        account: str | None = None,
        arm_endpoint: str | None = None,
        arm_api_version: str = ARM_API_VERSION,
        deploy_poll_interval: float = 5.0,
        deploy_timeout: float = 3600.0,
        max_active_jobs: int = 1,
        max_files: int = 50,
        upload_threshold: int = 32 * 1024 * 1024,
        upload_part_size: int = 16 * 1024 * 1024,
        upload_concurrency: int = 8,
        timeout: float = 120.0,
        home: str | Path | None = None,
        file_ttl: int = DEFAULT_FILE_TTL,
    ) -> None:
        found = resolve_setting(endpoint, ["AZURE_OPENAI_ENDPOINT"])
        if not found:
            raise errors.MissingCredentials(
                "azure needs the resource's endpoint: set AZURE_OPENAI_ENDPOINT or pass "
                "endpoint='https://<account>.openai.azure.com'",
                provider=self.name,
            )
        self.endpoint = found.rstrip("/")
        self.api_key = resolve_secret(
            api_key,
            ["AZURE_OPENAI_API_KEY"],
            provider=self.name,
            argument="api_key",
            required=False,
        )
        self.credential = credential
        self.api_version = resolve_setting(api_version, ["OPENAI_API_VERSION"]) or API_VERSION
        self.subscription_id = resolve_setting(subscription_id, ["AZURE_SUBSCRIPTION_ID"])
        self.resource_group = resolve_setting(resource_group, ["AZURE_RESOURCE_GROUP"])
        host = re.sub(r"^https?://", "", self.endpoint).split("/")[0]
        self.account = resolve_setting(account, ["AZURE_OPENAI_ACCOUNT"]) or host.split(".")[0]
        self.arm_endpoint = (
            resolve_setting(arm_endpoint, ["AZURE_RESOURCE_MANAGER_ENDPOINT"]) or ARM_ENDPOINT
        )
        self.arm_api_version = arm_api_version
        self.deploy_poll_interval, self.deploy_timeout = deploy_poll_interval, deploy_timeout
        self.max_active_jobs, self.max_files = max_active_jobs, max_files
        self.base_url, self.organization, self.project = self.endpoint, None, None
        self.version: ApiVersion = describe(self.api_version)
        self._connect(
            timeout=timeout,
            home=home,
            upload_threshold=upload_threshold,
            upload_part_size=upload_part_size,
            upload_concurrency=upload_concurrency,
        )
        base = self.uploader
        self.uploader = AzureUploader(
            self._client,
            self.name,
            threshold=base.threshold,
            part_size=base.part_size,
            concurrency=base.concurrency,
            state_dir=base.state_dir,
            version=self.version,
            file_ttl=file_ttl,
        )
        self._sent: dict[str, float] = {}
        """Idempotency keys of job creates already sent, with when: only a retry looks for
        a job made by an earlier attempt."""
        self._sent_lock = threading.Lock()

    def __repr__(self) -> str:
        auth = "api-key" if self.api_key else "entra-id"
        return f"<AzureOpenAIProvider endpoint={self.endpoint!r} auth={auth}>"

    def active_capabilities(self) -> Capabilities:
        """What this API version defines: the dated API trains SFT only and has no pause
        or resume; the v1 API has all of them (SFT, DPO and reinforcement)."""
        caps = self.capabilities
        update: dict[str, Any] = {"methods": caps.methods & self.version.methods}
        if not self.version.pause:
            update["operations"] = caps.operations - {Operation.PAUSE, Operation.RESUME}
        return caps.model_copy(update=update)

    # -- credentials -----------------------------------------------------------------
    def _entra(self) -> TokenCredential:
        if self.credential is None:
            from azure.identity import DefaultAzureCredential

            self.credential = DefaultAzureCredential()
        return self.credential

    def _token_provider(self, scope: str) -> Callable[[], str]:
        """Tokens for ``scope``; a credential that fails raises ftsdk's
        ``MissingCredentials`` or ``AuthenticationError`` saying what to set."""
        return token_provider(self._entra(), scope)

    def _make_client(self) -> openai.OpenAI:
        import openai

        key = self.api_key.get_secret_value() if self.api_key else None
        if self.api_version == "v1":
            return openai.OpenAI(
                base_url=f"{self.endpoint}/openai/v1/",
                max_retries=0,
                timeout=self.timeout,
                api_key=key or self._token_provider(DATA_SCOPE),
                default_headers={"api-key": key} if key else None,
            )
        if key:
            return openai.AzureOpenAI(
                azure_endpoint=self.endpoint,
                api_key=key,
                api_version=self.api_version,
                max_retries=0,
                timeout=self.timeout,
            )
        return openai.AzureOpenAI(
            azure_endpoint=self.endpoint,
            api_version=self.api_version,
            azure_ad_token_provider=self._token_provider(DATA_SCOPE),
            max_retries=0,
            timeout=self.timeout,
        )

    def _make_async_client(self) -> openai.AsyncOpenAI:
        import openai

        key = self.api_key.get_secret_value() if self.api_key else None
        if self.api_version == "v1":
            sync_token = self._token_provider(DATA_SCOPE)

            async def token() -> str:
                return await asyncio.to_thread(sync_token)

            return openai.AsyncOpenAI(
                base_url=f"{self.endpoint}/openai/v1/",
                max_retries=0,
                timeout=self.timeout,
                api_key=key or token,
                default_headers={"api-key": key} if key else None,
            )
        if key:
            return openai.AsyncAzureOpenAI(
                azure_endpoint=self.endpoint,
                api_key=key,
                api_version=self.api_version,
                max_retries=0,
                timeout=self.timeout,
            )
        return openai.AsyncAzureOpenAI(
            azure_endpoint=self.endpoint,
            api_version=self.api_version,
            azure_ad_token_provider=self._token_provider(DATA_SCOPE),
            max_retries=0,
            timeout=self.timeout,
        )

    # -- limits checked before calling -------------------------------------------------
    def _check_can_upload(self) -> None:
        with translated(self.name):
            held = len(first_page(self._client().files.list()))
        if held >= self.max_files:
            raise errors.InvalidRequest(
                f"this Azure OpenAI resource holds {held} files, its limit of "
                f"{self.max_files}: delete files you no longer need "
                "(client.provider._client().files.delete(...)) before uploading",
                provider=self.name,
                code="quotaExceeded",
            )

    def _check_can_create_job(self, request: TrainingRequest) -> None:
        with translated(self.name):
            active = [
                str(field(j, "id"))
                for j in first_page(self._client().fine_tuning.jobs.list(limit=100))
                if not JOB_STATUSES.get(str(field(j, "status")), JobStatus.QUEUED).is_terminal
            ]
        if len(active) >= self.max_active_jobs:
            raise errors.InvalidRequest(
                f"this Azure OpenAI resource already runs {len(active)} fine-tuning job(s) "
                f"({', '.join(active)}), its limit of {self.max_active_jobs}: wait for it or "
                "cancel it first",
                provider=self.name,
                code="quotaExceeded",
            )

    # -- jobs, as each API version defines them ---------------------------------------
    def _state(self, job: Any, known_id: str | None = None) -> JobState:
        return state_of(
            job,
            provider=self.name,
            known_id=known_id,
            has_method=self.version.job_method,
            has_metadata=self.version.job_metadata,
            hidden_metadata=frozenset({IDEMPOTENCY_KEY}),
        )

    def _seed(self, request: TrainingRequest) -> int | None:
        """The seed to send: the user's; on a version without job metadata, one derived
        from the idempotency key when the user gave none (it is echoed back, so a retry
        finds the job the first attempt made)."""
        if request.spec.seed is not None or self.version.job_metadata:
            return request.spec.seed
        digest = hashlib.sha256(request.idempotency_key.encode()).digest()
        return int.from_bytes(digest[:4], "big") % 2**31

    def _job_body(self, request: TrainingRequest) -> dict[str, Any]:
        """The create request, with only the fields this API version defines."""
        spec, version = request.spec, self.version
        options = request.options
        assert isinstance(options, AzureOpenAIOptions)
        hyper = {HYPERPARAMETERS[k]: v for k, v in spec.method.explicit().items()}
        body: dict[str, Any] = {"model": spec.base_model, "training_file": request.training_file.id}
        if request.validation_file is not None:
            body["validation_file"] = request.validation_file.id
        if spec.suffix is not None:
            body["suffix"] = spec.suffix
        seed = self._seed(request)
        if seed is not None:
            body["seed"] = seed
        if "method" in version.job_fields:
            body["method"] = method_body(spec.method)
        elif hyper:
            body["hyperparameters"] = hyper
        if version.job_metadata:
            body["metadata"] = {**spec.metadata, IDEMPOTENCY_KEY: request.idempotency_key}
        if options.integrations and "integrations" in version.job_fields:
            body["integrations"] = options.integrations
        if version.training_type:
            body["trainingType"] = TRAINING_TYPES[options.training_type]
        undefined = set(body) - version.job_fields
        if undefined:  # a bug here, never a request the version does not define
            raise errors.FtsdkError(
                f"internal: {sorted(undefined)} not defined by api_version {version.name}",
                provider=self.name,
            )
        return body

    def _refuse_undefined(self, request: TrainingRequest) -> None:
        """Refuse what this version cannot express, before anything is sent."""
        spec = request.spec
        if spec.method.type not in self.version.methods:
            raise errors.UnsupportedOperation(
                f"azure api_version={self.version.name!r} does not train with "
                f"{spec.method.type!r} (its job has no 'method'); use api_version=\"v1\"",
                operation=f"train:{spec.method.type}",
                supported=sorted(self.version.methods),
                provider=self.name,
            )
        self.check_spec(spec)

    def check_spec(self, spec: JobSpec) -> None:
        """Refuse, before any upload, what this API version cannot take: job metadata on
        the dated API (it keeps none), more metadata pairs than v1's 16 (ftsdk's
        idempotency key is one), a seed outside the version's integer range. Azure's
        specs set no bounds on epochs, batch size or learning rate: none are invented.
        A reinforcement job needs validation data, and a grader v1 takes (no ``python``)."""
        version = self.version
        check_method_grader(spec.method, AZURE_RFT, provider=self.name)
        if spec.method.type == "reinforcement" and spec.validation_data is None:
            raise errors.InvalidRequest(
                "validation_data: Azure OpenAI's reinforcement fine-tuning needs a validation "
                "file beside the training file; give validation_data",
                field="validation_data",
                provider=self.name,
            )
        if spec.metadata and not version.job_metadata:
            raise errors.InvalidRequest(
                f"metadata: azure api_version={version.name!r} keeps no job metadata; "
                'use api_version="v1" or leave metadata out',
                field="metadata",
                provider=self.name,
            )
        if version.job_metadata and len(spec.metadata) > 15:
            raise errors.InvalidRequest(
                f"metadata: {len(spec.metadata)} pairs; Azure's v1 API keeps 16, and ftsdk "
                "uses one for its idempotency key: at most 15",
                field="metadata",
                provider=self.name,
            )
        low = 0 if version.is_v1 else -(2**31)  # v1: 0..2147483647; 2024-10-21: int32
        if spec.seed is not None and not low <= spec.seed <= 2**31 - 1:
            raise errors.InvalidRequest(
                f"seed: {spec.seed} is outside {low}..{2**31 - 1}, the range azure "
                f"api_version={version.name!r} accepts",
                field="seed",
                provider=self.name,
            )

    def _matches(self, job: Any, request: TrainingRequest, sent_at: float) -> bool:
        """Whether ``job`` is the one an earlier attempt of ``request`` created: checked on
        what the job says, never on what a list filter was asked for."""
        spec = request.spec
        if field(job, "training_file") != request.training_file.id:
            return False
        if field(job, "model") not in (spec.base_model, None):
            return False
        if self.version.job_metadata:
            metadata = field(job, "metadata")
            return (
                isinstance(metadata, dict)
                and metadata.get(IDEMPOTENCY_KEY) == request.idempotency_key
            )
        # No metadata on this version: the seed (derived from the key unless the user
        # chose one), the suffix and the creation time must all agree.
        suffix = field(job, "suffix") or field(job, "user_provided_suffix")
        created = field(job, "created_at")
        return (
            field(job, "seed") == self._seed(request)
            and (suffix or None) == (spec.suffix or None)
            and isinstance(created, int)
            and created >= sent_at - CLOCK_SKEW
        )

    def _find_own_job(self, request: TrainingRequest, sent_at: float) -> JobState | None:
        """The job an earlier attempt of ``request`` made, from the newest jobs (paged
        with ``after``, which both versions define, at most :data:`MAX_JOBS_SCANNED`)."""
        client = self._client()

        def fetch(cursor: str | None) -> Any:
            with translated(self.name):
                return client.fine_tuning.jobs.list(limit=100, after=cursor or omit())

        for job in itertools.islice(pages(fetch, what="jobs"), MAX_JOBS_SCANNED):
            if field(job, "id") and self._matches(job, request, sent_at):
                return self._state(job)
        return None

    def create_job(self, request: TrainingRequest) -> JobState:
        self._refuse_undefined(request)
        with self._sent_lock:
            sent_at = self._sent.get(request.idempotency_key)
        if sent_at is not None:  # a retry: the first attempt may have made the job
            found = self._find_own_job(request, sent_at)
            if found is not None:
                return found
        self._check_can_create_job(request)
        body = self._job_body(request)
        extra = {"trainingType": body.pop("trainingType")} if "trainingType" in body else None
        with self._sent_lock:
            now = time.time()
            for key in [k for k, at in self._sent.items() if at < now - 86400]:
                del self._sent[key]  # a day on, no retry of that call is still running
            self._sent.setdefault(request.idempotency_key, now)
        with translated(self.name):
            job = self._client().fine_tuning.jobs.create(**body, extra_body=extra)
        return self._state(job)

    def _job_id(self, job_id: str) -> str:
        """``job_id`` if it can only name a job, else :class:`~ftsdk.errors.InvalidRequest`
        before any request (``..``, ``/``, ``?``, ``#`` never reach a URL)."""
        if not isinstance(job_id, str) or JOB_ID.fullmatch(job_id) is None or ".." in job_id:
            raise errors.InvalidRequest(
                f"job_id {job_id!r} is not an Azure OpenAI fine-tuning job id "
                "(like ftjob-0123456789abcdef0123456789abcdef)",
                field="job_id",
                provider=self.name,
            )
        return job_id

    def get_job(self, job_id: str) -> JobState:
        job_id = self._job_id(job_id)
        with translated(self.name):
            return self._state(self._client().fine_tuning.jobs.retrieve(job_id), job_id)

    async def aget_job(self, job_id: str) -> JobState:
        """Async twin of :meth:`get_job`."""
        job_id = self._job_id(job_id)
        with translated(self.name):
            job = await self._aclient().fine_tuning.jobs.retrieve(job_id)
        return self._state(job, job_id)

    def cancel_job(self, job_id: str) -> JobState:
        return super().cancel_job(self._job_id(job_id))

    def pause_job(self, job_id: str) -> JobState:
        return super().pause_job(self._job_id(job_id))

    def resume_job(self, job_id: str) -> JobState:
        return super().resume_job(self._job_id(job_id))

    async def acancel_job(self, job_id: str) -> JobState:
        """Async twin of :meth:`cancel_job`."""
        return await super().acancel_job(self._job_id(job_id))

    async def apause_job(self, job_id: str) -> JobState:
        """Async twin of :meth:`pause_job`."""
        return await super().apause_job(self._job_id(job_id))

    async def aresume_job(self, job_id: str) -> JobState:
        """Async twin of :meth:`resume_job`."""
        return await super().aresume_job(self._job_id(job_id))

    def list_jobs(self, *, limit: int) -> list[JobState]:
        with translated(self.name):
            jobs = first_page(self._client().fine_tuning.jobs.list(limit=limit))
        return [self._state(job) for job in jobs if field(job, "id")]

    async def alist_jobs(self, *, limit: int) -> list[JobState]:
        """Async twin of :meth:`list_jobs`."""
        with translated(self.name):
            jobs = first_page(await self._aclient().fine_tuning.jobs.list(limit=limit))
        return [self._state(job) for job in jobs if field(job, "id")]

    def _pages(self, fetch: Callable[[str | None], Any]) -> list[Any]:
        """Every item of a list that pages with ``after``, oldest page first (bounded as
        :func:`ftsdk_openai.paging.pages` bounds it)."""

        def page(cursor: str | None) -> Any:
            with translated(self.name):
                return fetch(cursor)

        return list(pages(page))

    def list_events(self, job_id: str, *, after: str | None) -> list[JobEvent]:
        """Events oldest first, only those after the event ``after`` (an id this provider
        gave, which may be a stand-in for an event Azure sent without one)."""
        job_id = self._job_id(job_id)
        client = self._client()
        events = [
            event_of(e)
            for e in self._pages(
                lambda cursor: client.fine_tuning.jobs.list_events(
                    job_id, limit=100, after=cursor or omit()
                )
            )
        ]
        events.sort(key=lambda e: e.created_at)  # Azure pages oldest first; be sure
        if after is not None:
            ids = [e.id for e in events]
            if after in ids:
                events = events[ids.index(after) + 1 :]
        return events

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        job_id = self._job_id(job_id)
        client = self._client()
        found = self._pages(
            lambda cursor: client.fine_tuning.jobs.checkpoints.list(
                job_id, limit=100, after=cursor or omit()
            )
        )
        checkpoints = [checkpoint_of(c, job_id) for c in found]
        return [c for c in checkpoints if c is not None]

    def _stream_options(self) -> dict[str, Any]:
        """``stream_options`` only where the version defines it (2024-10-21 does not)."""
        return super()._stream_options() if self.version.stream_usage else {}

    # -- deployments -----------------------------------------------------------------
    def _deployments(self) -> Deployments:
        if not (self.subscription_id and self.resource_group):
            raise errors.MissingCredentials(
                "deploying needs the resource's Azure Resource Manager coordinates: set "
                "AZURE_SUBSCRIPTION_ID and AZURE_RESOURCE_GROUP (and AZURE_OPENAI_ACCOUNT if "
                "the endpoint's host is not the account name) or pass subscription_id=, "
                "resource_group=, account=",
                provider=self.name,
            )
        return Deployments(
            endpoint=self.arm_endpoint,
            subscription_id=self.subscription_id,
            resource_group=self.resource_group,
            account=self.account,
            api_version=self.arm_api_version,
            token=self._token_provider(ARM_SCOPE),
        )

    def deploy_model(
        self, model: ModelInfo, *, name: str | None, options: Mapping[str, Any]
    ) -> ModelInfo:
        unknown = set(options) - {"sku", "capacity", "wait"}
        if unknown:
            raise errors.InvalidRequest(
                f"deploy() takes sku=, capacity=, wait=; not {sorted(unknown)}", provider=self.name
            )
        deployment = check_name(
            "deployment", name or re.sub(r"[^A-Za-z0-9._-]", "-", model.id).strip("._-")[:64]
        )
        log.warning(
            "deploying %s as %s: an Azure deployment is billed by the hour while it exists; "
            "call undeploy() when you are done",
            model.id,
            deployment,
        )
        arm = self._deployments()
        created = arm.put(
            deployment,
            model=model.id,
            sku=str(options.get("sku", "standard")),
            capacity=int(options.get("capacity", 1)),
        )
        if options.get("wait", True):
            arm.wait(
                deployment,
                created,
                poll_interval=self.deploy_poll_interval,
                timeout=self.deploy_timeout,
            )
        return ModelInfo(
            id=deployment,
            provider=self.name,
            kind="deployment",
            base_model=model.id,
            job_id=model.job_id,
            deployment=deployment,
        )

    def undeploy_model(self, model: ModelInfo) -> None:
        self._deployments().delete(model.deployment or model.id)

    # Azure's data plane deletes no models (deleting the deployment stops the billing).
    delete_model = Provider.delete_model

    def _chat_model(self, model: ModelInfo) -> str:
        """Azure serves models through deployments: chat names the deployment."""
        return model.deployment or model.id
