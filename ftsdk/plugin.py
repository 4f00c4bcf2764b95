"""Everything a provider plugin imports, in one namespace.

Application code imports ``ftsdk``; a plugin author imports this module, and nothing
else from the core::

    from ftsdk.plugin import Capabilities, JobState, Operation, Provider, hookimpl

    class EchoProvider(Provider):
        name = "echo"
        capabilities = Capabilities(operations={Operation.CHAT})

        def chat(self, model, messages, params): ...

    @hookimpl
    def register_providers(register):
        register(EchoProvider)

It holds the contract (:class:`Provider` with its sync methods and their async twins,
:data:`CONTRACT`), what the methods take and return, the hook, the error types
(``errors``), the helpers a provider uses to read its settings, the data rules it declares
(:class:`DataRules`) and, for providers that train on this machine, their base
(:class:`LocalProvider`). Every type that appears in a contract method's signature is here
(a test checks it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ftsdk import errors
from ftsdk._vocab import DataFormat, MethodType, Operation
from ftsdk.capabilities import Capabilities
from ftsdk.credentials import resolve_secret, resolve_setting
from ftsdk.datarules import DataRules, ModelRules
from ftsdk.files import FilePurpose, FileRef
from ftsdk.hookspecs import hookimpl
from ftsdk.jobs import Checkpoint, JobError, JobEvent, JobState, JobStatus, Metric
from ftsdk.methods import DPO, RFT, SFT
from ftsdk.models import ChatChunk, ChatParams, ChatResponse, ModelInfo, Usage
from ftsdk.provider import CONTRACT, ContractMethod, Provider, ProviderOptions, TrainingRequest
from ftsdk.registry import Register
from ftsdk.retry import parse_retry_after
from ftsdk.spec import JobSpec

if TYPE_CHECKING:
    from ftsdk.local import LocalProvider, PausableLocalProvider, local_capabilities

_LAZY = {
    "LocalProvider": "ftsdk.local",
    "PausableLocalProvider": "ftsdk.local",
    "local_capabilities": "ftsdk.local",
}
"""The base of providers that train on this machine (:mod:`ftsdk.local`), loaded on first
use: a hosted provider's ``import ftsdk.plugin`` does not load the job-folder code."""

__all__ = [
    "CONTRACT",
    "DPO",
    "RFT",
    "SFT",
    "Capabilities",
    "ChatChunk",
    "ChatParams",
    "ChatResponse",
    "Checkpoint",
    "DataRules",
    "ContractMethod",
    "DataFormat",
    "FilePurpose",
    "FileRef",
    "JobError",
    "JobEvent",
    "JobSpec",
    "JobState",
    "JobStatus",
    "LocalProvider",
    "Metric",
    "MethodType",
    "ModelInfo",
    "ModelRules",
    "Operation",
    "PausableLocalProvider",
    "Provider",
    "ProviderOptions",
    "Register",
    "TrainingRequest",
    "Usage",
    "errors",
    "hookimpl",
    "local_capabilities",
    "parse_retry_after",
    "resolve_secret",
    "resolve_setting",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
