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
(``errors``) and the helpers a provider uses to read its settings. Every type that appears
in a contract method's signature is here (a test checks it).
"""

from __future__ import annotations

from ftsdk import errors
from ftsdk._vocab import DataFormat, MethodType, Operation
from ftsdk.capabilities import Capabilities
from ftsdk.credentials import resolve_secret, resolve_setting
from ftsdk.files import FilePurpose, FileRef
from ftsdk.hookspecs import hookimpl
from ftsdk.jobs import Checkpoint, JobError, JobEvent, JobState, JobStatus, Metric
from ftsdk.methods import DPO, RFT, SFT
from ftsdk.models import ChatChunk, ChatParams, ChatResponse, ModelInfo, Usage
from ftsdk.provider import CONTRACT, ContractMethod, Provider, ProviderOptions, TrainingRequest
from ftsdk.registry import Register
from ftsdk.retry import parse_retry_after
from ftsdk.spec import JobSpec

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
    "ContractMethod",
    "DataFormat",
    "FilePurpose",
    "FileRef",
    "JobError",
    "JobEvent",
    "JobSpec",
    "JobState",
    "JobStatus",
    "Metric",
    "MethodType",
    "ModelInfo",
    "Operation",
    "Provider",
    "ProviderOptions",
    "Register",
    "TrainingRequest",
    "Usage",
    "errors",
    "hookimpl",
    "parse_retry_after",
    "resolve_secret",
    "resolve_setting",
]
