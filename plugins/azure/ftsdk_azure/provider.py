"""The Azure OpenAI provider: fine-tuning on the data plane, deployment through Azure
Resource Manager, chat on the deployment."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr

from ftsdk import (
    Capabilities,
    JobStatus,
    ModelInfo,
    Operation,
    Provider,
    TrainingRequest,
    errors,
)
from ftsdk.credentials import resolve_secret, resolve_setting
from ftsdk_azure.arm import ARM_ENDPOINT, ARM_SCOPE, Deployments, check_name
from ftsdk_openai import OpenAIProvider
from ftsdk_openai.errors import translated
from ftsdk_openai.provider import STATUSES, OpenAIOptions

if TYPE_CHECKING:
    import openai
    from azure.core.credentials import TokenCredential

__all__ = ["API_VERSION", "AzureOpenAIOptions", "AzureOpenAIProvider"]

API_VERSION = "2024-10-21"
ARM_API_VERSION = "2024-10-01"
DATA_SCOPE = "https://cognitiveservices.azure.com/.default"
log = logging.getLogger("ftsdk.azure")
ACTIVE = ("validating_files", "pending", "queued", "running", "paused", "created")


class AzureOpenAIOptions(OpenAIOptions):
    """Keys accepted in ``JobSpec.provider_options`` for Azure OpenAI (as for OpenAI)."""


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI: fine-tuning jobs, ARM deployments, chat on deployments.

    :param endpoint: ``https://<account>.openai.azure.com`` (``AZURE_OPENAI_ENDPOINT``).
    :param api_key: ``AZURE_OPENAI_API_KEY``; without one, Microsoft Entra ID is used.
    :param credential: any azure-identity ``TokenCredential`` for Entra ID (default
        ``DefaultAzureCredential()``); also used for Resource Manager.
    :param api_version: a dated data-plane version (``OPENAI_API_VERSION``, default
        2024-10-21) or ``"v1"`` for the v1 API (which adds pause and resume).
    :param subscription_id: for deployments (``AZURE_SUBSCRIPTION_ID``).
    :param resource_group: for deployments (``AZURE_RESOURCE_GROUP``).
    :param account: the resource's name (``AZURE_OPENAI_ACCOUNT``; default: the endpoint's
        host name up to its first dot).
    :param max_active_jobs: jobs the resource runs at once (checked before creating one).
    :param max_files: files the resource holds (checked before uploading).
    """

    name = "azure"
    display_name = "Azure OpenAI"
    capabilities = OpenAIProvider.capabilities.model_copy(
        update={
            "operations": (OpenAIProvider.capabilities.operations | {Operation.DEPLOY})
            - {Operation.DELETE_MODEL},
            "max_file_bytes": 512 * 1024 * 1024,
            "max_concurrent_jobs": 1,
        }
    )
    Options = AzureOpenAIOptions
    statuses: ClassVar[dict[str, JobStatus]] = {
        **STATUSES,
        "pending": JobStatus.QUEUED,
        "created": JobStatus.QUEUED,
    }
    events_newest_first: ClassVar[bool] = False
    credential_env_vars = (
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_KEY",  # type: ignore[assignment]
        "OPENAI_API_VERSION",
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_RESOURCE_GROUP",
        "AZURE_OPENAI_ACCOUNT",
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
        arm_endpoint: str = ARM_ENDPOINT,
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
        self.arm_endpoint, self.arm_api_version = arm_endpoint, arm_api_version
        self.deploy_poll_interval, self.deploy_timeout = deploy_poll_interval, deploy_timeout
        self.max_active_jobs, self.max_files = max_active_jobs, max_files
        self.base_url, self.organization, self.project = self.endpoint, None, None
        self._connect(
            timeout=timeout,
            home=home,
            upload_threshold=upload_threshold,
            upload_part_size=upload_part_size,
            upload_concurrency=upload_concurrency,
        )

    def __repr__(self) -> str:
        auth = "api-key" if self.api_key else "entra-id"
        return f"<AzureOpenAIProvider endpoint={self.endpoint!r} auth={auth}>"

    def active_capabilities(self) -> Capabilities:
        """The dated API has no pause or resume; the v1 API has both."""
        if self.api_version == "v1":
            return self.capabilities
        return self.capabilities.model_copy(
            update={
                "operations": self.capabilities.operations - {Operation.PAUSE, Operation.RESUME}
            }
        )

    # -- credentials -----------------------------------------------------------------
    def _entra(self) -> TokenCredential:
        if self.credential is None:
            from azure.identity import DefaultAzureCredential

            self.credential = DefaultAzureCredential()
        return self.credential

    def _token_provider(self, scope: str) -> Callable[[], str]:
        from azure.identity import get_bearer_token_provider

        return get_bearer_token_provider(self._entra(), scope)

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
            held = sum(1 for _ in self._client().files.list())
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
                j.id
                for j in self._client().fine_tuning.jobs.list(limit=100)
                if str(j.status) in ACTIVE
            ]
        if len(active) >= self.max_active_jobs:
            raise errors.InvalidRequest(
                f"this Azure OpenAI resource already runs {len(active)} fine-tuning job(s) "
                f"({', '.join(active)}), its limit of {self.max_active_jobs}: wait for it or "
                "cancel it first",
                provider=self.name,
                code="quotaExceeded",
            )

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
