"""ftsdk: fine-tune large language models through one provider-neutral API.

    import ftsdk

    client = ftsdk.client("openai")                      # or "azure", "trl", "autotrain"
    job = client.train(base_model="gpt-4.1-mini-2025-04-14", training_data="train.jsonl",
                       method=ftsdk.SFT(epochs=3), suffix="recipes")
    model = job.wait().model
    print(model.chat("Hello").content)

Names are imported lazily, so ``import ftsdk`` stays cheap. Each is written once, in
``_EXPORTS``. Provider plugins import from :mod:`ftsdk.plugin` instead: the contract and
everything its methods take and return, in one namespace.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ftsdk._version import __version__ as __version__

if TYPE_CHECKING:  # for type checkers: the same names as _EXPORTS, checked by a test
    from ftsdk import budget as budget
    from ftsdk import compare as compare
    from ftsdk import errors as errors
    from ftsdk import graders as graders
    from ftsdk import sweeps as sweeps
    from ftsdk._client import (
        AsyncClient as AsyncClient,
    )
    from ftsdk._client import (
        Client as Client,
    )
    from ftsdk._client import (
        async_client as async_client,
    )
    from ftsdk._client import (
        client as client,
    )
    from ftsdk.budget import Budget as Budget
    from ftsdk.capabilities import (
        Capabilities as Capabilities,
    )
    from ftsdk.capabilities import (
        DataFormat as DataFormat,
    )
    from ftsdk.capabilities import (
        MethodType as MethodType,
    )
    from ftsdk.capabilities import (
        Operation as Operation,
    )
    from ftsdk.dataset import Dataset as Dataset
    from ftsdk.files import FileRef as FileRef
    from ftsdk.hookspecs import hookimpl as hookimpl
    from ftsdk.jobs import (
        AsyncJob as AsyncJob,
    )
    from ftsdk.jobs import (
        Checkpoint as Checkpoint,
    )
    from ftsdk.jobs import (
        Job as Job,
    )
    from ftsdk.jobs import (
        JobError as JobError,
    )
    from ftsdk.jobs import (
        JobEvent as JobEvent,
    )
    from ftsdk.jobs import (
        JobState as JobState,
    )
    from ftsdk.jobs import (
        JobStatus as JobStatus,
    )
    from ftsdk.jobs import (
        Metric as Metric,
    )
    from ftsdk.models import (
        AsyncModel as AsyncModel,
    )
    from ftsdk.models import (
        ChatChunk as ChatChunk,
    )
    from ftsdk.models import (
        ChatParams as ChatParams,
    )
    from ftsdk.models import (
        ChatResponse as ChatResponse,
    )
    from ftsdk.models import (
        ChatStream as ChatStream,
    )
    from ftsdk.models import (
        Model as Model,
    )
    from ftsdk.models import (
        ModelInfo as ModelInfo,
    )
    from ftsdk.models import (
        Usage as Usage,
    )
    from ftsdk.plugins import providers as providers
    from ftsdk.provider import (
        Provider as Provider,
    )
    from ftsdk.provider import (
        ProviderOptions as ProviderOptions,
    )
    from ftsdk.provider import (
        TrainingRequest as TrainingRequest,
    )
    from ftsdk.registry import ProviderRegistry as ProviderRegistry
    from ftsdk.retry import RetryPolicy as RetryPolicy
    from ftsdk.serving import ModelServer as ModelServer
    from ftsdk.serving import serve as serve
    from ftsdk.spec import DPO as DPO
    from ftsdk.spec import RFT as RFT
    from ftsdk.spec import SFT as SFT
    from ftsdk.spec import JobSpec as JobSpec
    from ftsdk.sweeps import sweep as sweep

_EXPORTS: dict[str, tuple[str, ...]] = {
    "ftsdk._client": ("AsyncClient", "Client", "async_client", "client"),
    "ftsdk.budget": ("Budget",),
    "ftsdk.capabilities": ("Capabilities", "DataFormat", "MethodType", "Operation"),
    "ftsdk.dataset": ("Dataset",),
    "ftsdk.files": ("FileRef",),
    "ftsdk.hookspecs": ("hookimpl",),
    "ftsdk.jobs": (
        "AsyncJob",
        "Checkpoint",
        "Job",
        "JobError",
        "JobEvent",
        "JobState",
        "JobStatus",
        "Metric",
    ),
    "ftsdk.models": (
        "AsyncModel",
        "ChatChunk",
        "ChatParams",
        "ChatResponse",
        "ChatStream",
        "Model",
        "ModelInfo",
        "Usage",
    ),
    "ftsdk.plugins": ("providers",),
    "ftsdk.provider": ("Provider", "ProviderOptions", "TrainingRequest"),
    "ftsdk.registry": ("ProviderRegistry",),
    "ftsdk.retry": ("RetryPolicy",),
    "ftsdk.serving": ("ModelServer", "serve"),
    "ftsdk.spec": ("DPO", "RFT", "SFT", "JobSpec"),
    "ftsdk.sweeps": ("sweep",),
}
"""The one place each public name is written: the module that defines it, then its names.
``__all__`` and the lazy lookup below are read from it."""

_SUBMODULES = ("budget", "compare", "errors", "graders", "sweeps")
"""Public submodules, reached as ``ftsdk.errors`` without an import of their own."""

_LOCATIONS = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted([*_LOCATIONS, *_SUBMODULES, "__version__"])  # noqa: PLE0605 - derived


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"ftsdk.{name}")
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'ftsdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
