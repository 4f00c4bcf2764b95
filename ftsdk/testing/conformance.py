"""The provider conformance suite: mix it into your plugin's tests.

    from ftsdk.testing.conformance import ProviderConformance

    class TestEchoProvider(ProviderConformance):
        provider_class = EchoProvider
        provider_kwargs = {"api_key": "echo-test-secret"}
        secret_values = ("echo-test-secret",)
        entry_point = "echo"

Each test's docstring ends with what to do when it fails. Needs pytest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from ftsdk._client import Client
from ftsdk.capabilities import Operation
from ftsdk.errors import UnsupportedOperation
from ftsdk.files import FileRef
from ftsdk.jobs import Job, JobState, JobStatus
from ftsdk.models import chat_arguments
from ftsdk.plugins import load_registry
from ftsdk.provider import Provider
from ftsdk.registry import ProviderRegistry
from ftsdk.retry import RetryPolicy
from ftsdk.spec import DPO, SFT, JobSpec

__all__ = ["HEAVY_MODULES", "ProviderConformance"]

HEAVY_MODULES = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "openai",
    "azure",
    "tiktoken",
    "autotrain",
    "huggingface_hub",
    "numpy",
)
"""Top-level packages an entry-point module must not import (they cost seconds)."""


def _user_calls(client: Client) -> dict[Operation, Callable[[], object]]:
    """For each operation, the user-facing call that needs it."""
    state = JobState(
        id="job-conformance", provider=client.name, status=JobStatus.RUNNING, raw_status="running"
    )
    job = Job(client, state)
    model = client.model("model-conformance")
    method = next(iter(sorted(client.capabilities.methods)), "sft")
    spec = JobSpec(
        base_model="base-conformance",
        method=SFT() if method == "sft" else DPO(),
        training_data=FileRef(id="file-conformance"),
    )
    return {
        Operation.TRAIN: lambda: client.train(spec),
        Operation.UPLOAD: lambda: client.call(
            client.provider.upload_file,
            Path(__file__),
            purpose="fine-tune",
            content_hash="0" * 64,
        ),
        Operation.LIST_JOBS: client.jobs,
        Operation.CANCEL: job.cancel,
        Operation.PAUSE: job.pause,
        Operation.RESUME: job.resume,
        Operation.EVENTS: job.events,
        Operation.METRICS: job.metrics,
        Operation.CHECKPOINTS: job.checkpoints,
        Operation.CHAT: lambda: model.chat("hello"),
        Operation.STREAM: lambda: list(
            client.call_stream(
                client.provider.stream_chat, *chat_arguments(model.info, "hello", {})
            )
        ),
        Operation.DEPLOY: lambda: model.deploy("conformance"),
        Operation.DELETE_MODEL: model.delete,
        Operation.PUSH: lambda: model.push_to_hub("conformance/model"),
    }


class ProviderConformance:
    """Checks that a provider's declaration is honest and its secrets stay secret.

    Set ``provider_class``; optionally ``provider_kwargs`` (how to build one offline),
    ``secret_values`` (secrets inside those kwargs), ``entry_point`` (its entry-point name
    in the ``ftsdk`` group) and ``heavy_modules``.
    """

    provider_class: ClassVar[type[Provider]]
    provider_kwargs: ClassVar[dict[str, Any]] = {}
    secret_values: ClassVar[tuple[str, ...]] = ()
    entry_point: ClassVar[str | None] = None
    heavy_modules: ClassVar[tuple[str, ...]] = HEAVY_MODULES

    @pytest.fixture
    def provider(self) -> Provider:
        """An instance built from ``provider_kwargs``."""
        return self.provider_class(**self.provider_kwargs)

    @pytest.fixture
    def client(self, provider: Provider) -> Client:
        """A client around it that does not retry."""
        return Client(provider, retry=RetryPolicy(max_attempts=1))

    def test_registers(self) -> None:
        """A fresh registry accepts the class.

        Troubleshooting: the PluginError names the rule broken (name pattern, Options
        without extra="forbid", a declared operation whose methods are not overridden).
        """
        registry = ProviderRegistry()
        registry.register(self.provider_class)
        assert registry.get(self.provider_class.name) is self.provider_class

    def test_declared_operations_are_implemented(self) -> None:
        """Every declared operation overrides all of its methods.

        Troubleshooting: see ``ftsdk.provider.CONTRACT`` for the methods behind
        each operation; declare only what works.
        """
        declared = self.provider_class.capabilities.operations
        assert declared <= self.provider_class.implemented_operations()

    def test_implemented_operations_are_declared(self) -> None:
        """No method is overridden for an operation left undeclared, and none half-done.

        Troubleshooting: add the operation to ``capabilities.operations`` or remove the
        method; an operation with two methods (train, deploy) needs both.
        """
        cls = self.provider_class
        assert cls.implemented_operations() <= cls.capabilities.operations
        assert not cls.partially_implemented_operations()

    def test_undeclared_operations_raise_unsupported(self, client: Client) -> None:
        """Each undeclared operation, called as a user would, raises UnsupportedOperation
        naming the provider and the operation.

        Troubleshooting: this comes from the core; if it fails, the declaration and the
        class disagree (see the two tests above).
        """
        calls = _user_calls(client)
        for operation in sorted(set(Operation) - client.capabilities.operations):
            with pytest.raises(UnsupportedOperation) as caught:
                calls[operation]()
            assert caught.value.provider == client.name
            assert operation.value in caught.value.operation
            if operation in self.provider_class.capabilities.operations:
                continue  # declared by the class, narrowed by this instance's settings
            for method in _methods(operation):  # the provider's own default agrees
                args, kwargs = _dummy_args(method)
                with pytest.raises(UnsupportedOperation):
                    getattr(client.provider, method)(*args, **kwargs)

    def test_active_capabilities_never_widen_the_declaration(self, provider: Provider) -> None:
        """An instance may support less than its class declares, never more.

        Troubleshooting: ``active_capabilities()`` should return a narrowed copy of the
        class's ``capabilities`` (``model_copy(update=...)``).
        """
        declared, active = provider.capabilities, provider.active_capabilities()
        assert active.operations <= declared.operations
        assert active.methods <= declared.methods
        for method, names in active.hyperparameters.items():
            assert names <= declared.accepted_hyperparameters(method)

    def test_hyperparameters_only_for_declared_methods(self) -> None:
        """Accepted hyperparameters are named per declared method, with known names.

        Troubleshooting: names come from the fields of ``ftsdk.SFT`` / ``ftsdk.DPO``.
        """
        caps = self.provider_class.capabilities
        assert set(caps.hyperparameters) <= set(caps.methods)

    def test_options_forbid_unknown_keys(self) -> None:
        """``Options`` refuses a key it does not know.

        Troubleshooting: subclass ``ftsdk.ProviderOptions`` and keep its model_config.
        """
        with pytest.raises(ValidationError):
            self.provider_class.Options.model_validate({"surely_not_an_option_xyz": 1})

    def test_modules_import_nothing_heavy(self) -> None:
        """Importing the provider's module (and its entry point) loads no SDK or torch.

        Troubleshooting: move ``import openai`` / ``import torch`` into the methods that
        need them; ``ftsdk providers`` imports every plugin.
        """
        modules = {self.provider_class.__module__}
        if self.entry_point:
            for ep in _entry_points(self.entry_point):
                modules.add(ep.module)
        code = (
            "import importlib, json, sys\n"
            f"for m in {sorted(modules)!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        )
        loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
        assert not loaded & set(self.heavy_modules), sorted(loaded & set(self.heavy_modules))

    def test_entry_point_registers_this_class(self) -> None:
        """The entry point loads and registers ``provider_class``.

        Troubleshooting: the entry point goes in the group ``ftsdk`` of your
        pyproject.toml; its module needs an ``@ftsdk.hookimpl`` ``register_providers``.
        """
        if not self.entry_point:
            pytest.skip("no entry_point set")
        registry = load_registry(env={"FTSDK_PLUGINS": self.entry_point})
        assert not registry.failures, registry.failures
        assert registry.get(self.provider_class.name) is self.provider_class

    def test_secrets_never_in_repr(self, provider: Provider, client: Client) -> None:
        """No secret shows in the repr or str of the provider or client, and the provider
        reports each one through ``secrets()`` so the core can scrub errors.

        Troubleshooting: hold secrets as ``pydantic.SecretStr`` attributes.
        """
        shown = " ".join([repr(provider), str(provider), repr(client), repr(vars(provider))])
        for secret in self.secret_values:
            assert secret not in shown
            assert secret in provider.secrets()


def _entry_points(name: str) -> list[Any]:
    import importlib.metadata

    return [ep for ep in importlib.metadata.entry_points(group="ftsdk") if ep.name == name]


def _methods(operation: Operation) -> tuple[str, ...]:
    from ftsdk.provider import methods_of

    return tuple(method.sync.__name__ for method in methods_of(operation))


def _dummy_args(method: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Arguments good enough to reach a provider method's first line."""
    from ftsdk.models import ChatParams, ModelInfo

    info = ModelInfo(id="model-conformance", provider="conformance")
    job = ("job-conformance",)
    table: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
        "upload_file": ((Path(__file__),), {"purpose": "fine-tune", "content_hash": "0" * 64}),
        "create_job": ((None,), {}),
        "list_jobs": ((), {"limit": 1}),
        "list_events": (job, {"after": None}),
        "chat": ((info, [], ChatParams()), {}),
        "stream_chat": ((info, [], ChatParams()), {}),
        "deploy_model": ((info,), {"name": None, "options": {}}),
        "undeploy_model": ((info,), {}),
        "delete_model": ((info,), {}),
        "push_model": ((info,), {"repo_id": "conformance/model", "private": True}),
    }
    return table.get(method, (job, {}))
