"""ftsdk: fine-tune large language models through one provider-neutral API.

    import ftsdk

    client = ftsdk.client("openai")                      # or "azure", "trl", "autotrain"
    job = client.train(base_model="gpt-4.1-mini-2025-04-14", training_data="train.jsonl",
                       method=ftsdk.SFT(epochs=3), suffix="recipes")
    model = job.wait().model
    print(model.chat("Hello").content)

Names are imported lazily, so ``import ftsdk`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ftsdk._version import __version__

if TYPE_CHECKING:
    from ftsdk import compare, errors
    from ftsdk._client import Client, client
    from ftsdk.aio import AsyncClient, AsyncJob, AsyncModel, async_client
    from ftsdk.budget import Budget
    from ftsdk.capabilities import Capabilities, DataFormat, MethodType, Operation
    from ftsdk.dataset import Dataset
    from ftsdk.files import FileRef
    from ftsdk.hookspecs import hookimpl
    from ftsdk.jobs import Checkpoint, Job, JobError, JobEvent, JobState, JobStatus, Metric
    from ftsdk.models import (
        ChatChunk,
        ChatParams,
        ChatResponse,
        ChatStream,
        Model,
        ModelInfo,
        Usage,
    )
    from ftsdk.plugins import providers
    from ftsdk.provider import Provider, ProviderOptions, TrainingRequest
    from ftsdk.registry import ProviderRegistry
    from ftsdk.retry import RetryPolicy
    from ftsdk.serving import ModelServer, serve
    from ftsdk.spec import DPO, SFT, JobSpec
    from ftsdk.sweeps import sweep

__all__ = [
    "DPO",
    "SFT",
    "AsyncClient",
    "AsyncJob",
    "AsyncModel",
    "Budget",
    "Capabilities",
    "ChatChunk",
    "ChatParams",
    "ChatResponse",
    "ChatStream",
    "Checkpoint",
    "Client",
    "DataFormat",
    "Dataset",
    "FileRef",
    "Job",
    "JobError",
    "JobEvent",
    "JobSpec",
    "JobState",
    "JobStatus",
    "Metric",
    "MethodType",
    "Model",
    "ModelInfo",
    "ModelServer",
    "Operation",
    "Provider",
    "ProviderOptions",
    "ProviderRegistry",
    "RetryPolicy",
    "TrainingRequest",
    "Usage",
    "__version__",
    "async_client",
    "client",
    "compare",
    "errors",
    "hookimpl",
    "providers",
    "serve",
    "sweep",
]

_LOCATIONS = {
    "AsyncClient": "ftsdk.aio",
    "AsyncJob": "ftsdk.aio",
    "AsyncModel": "ftsdk.aio",
    "async_client": "ftsdk.aio",
    "Budget": "ftsdk.budget",
    "Capabilities": "ftsdk.capabilities",
    "ChatChunk": "ftsdk.models",
    "ChatParams": "ftsdk.models",
    "ChatResponse": "ftsdk.models",
    "ChatStream": "ftsdk.models",
    "Checkpoint": "ftsdk.jobs",
    "Client": "ftsdk._client",
    "DPO": "ftsdk.spec",
    "DataFormat": "ftsdk.capabilities",
    "Dataset": "ftsdk.dataset",
    "FileRef": "ftsdk.files",
    "Job": "ftsdk.jobs",
    "JobError": "ftsdk.jobs",
    "JobEvent": "ftsdk.jobs",
    "JobSpec": "ftsdk.spec",
    "JobState": "ftsdk.jobs",
    "JobStatus": "ftsdk.jobs",
    "Metric": "ftsdk.jobs",
    "MethodType": "ftsdk.capabilities",
    "Model": "ftsdk.models",
    "ModelInfo": "ftsdk.models",
    "ModelServer": "ftsdk.serving",
    "Operation": "ftsdk.capabilities",
    "Provider": "ftsdk.provider",
    "ProviderOptions": "ftsdk.provider",
    "ProviderRegistry": "ftsdk.registry",
    "RetryPolicy": "ftsdk.retry",
    "SFT": "ftsdk.spec",
    "TrainingRequest": "ftsdk.provider",
    "Usage": "ftsdk.models",
    "client": "ftsdk._client",
    "hookimpl": "ftsdk.hookspecs",
    "providers": "ftsdk.plugins",
    "serve": "ftsdk.serving",
    "sweep": "ftsdk.sweeps",
}


def __getattr__(name: str) -> Any:
    if name in ("errors", "compare", "budget", "sweeps"):
        return importlib.import_module(f"ftsdk.{name}")
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'ftsdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
