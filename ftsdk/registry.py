"""The provider registry: provider classes by name, validated as they are registered."""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

from ftsdk.capabilities import Capabilities
from ftsdk.datarules import DataRules
from ftsdk.errors import ConfigurationError, PluginError
from ftsdk.provider import CONTRACT, Provider, ProviderOptions, methods_of

__all__ = [
    "PluginFailure",
    "ProviderRegistry",
    "Register",
    "Registration",
    "contract_problems",
]

NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]*")


class Register(Protocol):
    """What ``register_providers`` receives: call it with each provider class."""

    def __call__(self, provider: type[Provider]) -> None: ...


@dataclass(frozen=True)
class Registration:
    """A registered provider and where it came from."""

    provider: type[Provider]
    distribution: str
    """The distribution (package) that registered it, or ``"<direct>"``."""
    version: str | None = None
    plugin: str | None = None
    """The entry point's name, when it came through one."""

    @property
    def name(self) -> str:
        """The provider's registered name."""
        return self.provider.name


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or whose registration was refused."""

    plugin: str
    distribution: str
    error: str


def _check(provider: object) -> type[Provider]:
    if not (inspect.isclass(provider) and issubclass(provider, Provider)):
        raise PluginError(f"{provider!r} is not a subclass of ftsdk.Provider")
    label = provider.__name__
    name = getattr(provider, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise PluginError(f"{label}.name must match [a-z][a-z0-9-]*, got {name!r}")
    if inspect.isabstract(provider):
        missing = sorted(getattr(provider, "__abstractmethods__", ()))
        raise PluginError(f"{label} ({name}) is abstract; implement {missing}")
    if not isinstance(provider.capabilities, Capabilities):
        raise PluginError(f"{label}.capabilities must be an ftsdk.Capabilities")
    if provider.data_rules is not None and not isinstance(provider.data_rules, DataRules):
        raise PluginError(f"{label}.data_rules must be an ftsdk.datarules.DataRules or None")
    options = provider.Options
    if not (inspect.isclass(options) and issubclass(options, ProviderOptions)):
        raise PluginError(f"{label}.Options must subclass ftsdk.ProviderOptions")
    if options.model_config.get("extra") != "forbid":
        raise PluginError(f"{label}.Options must keep extra='forbid'")
    declared = provider.capabilities.operations
    for op in sorted(declared - provider.implemented_operations()):
        missing = [m.sync.__name__ for m in methods_of(op) if not provider.overrides(m.sync)]
        raise PluginError(
            f"{label} ({name}) declares {op.value!r} but does not implement {missing}; "
            "implement them or leave the operation out of capabilities.operations"
        )
    problems = contract_problems(provider)
    if problems:
        raise PluginError(f"{label} ({name}) breaks the provider contract: " + "; ".join(problems))
    return provider


def _how_called(fn: Callable[..., object]) -> tuple[list[object], dict[str, object]]:
    """Arguments shaped as the core passes them to the contract method ``fn``: positional
    parameters by position, keyword-only ones by name (``self`` left out)."""
    args: list[object] = []
    kwargs: dict[str, object] = {}
    for param in list(inspect.signature(fn).parameters.values())[1:]:
        if param.kind is param.KEYWORD_ONLY:
            kwargs[param.name] = None
        else:
            args.append(None)
    return args, kwargs


def _shape_problem(provider: type[Provider], base: Callable[..., object], kind: str) -> str | None:
    """Why ``provider``'s override of the contract method ``base`` does not fit, if not."""
    fn = getattr(provider, base.__name__)
    expected = f"{base.__name__}{inspect.signature(base)}"
    is_async = inspect.iscoroutinefunction(fn)
    is_agen = inspect.isasyncgenfunction(fn)
    if kind == "sync" and (is_async or is_agen):
        return f"{base.__name__} must be a plain (sync) method: {expected}"
    if kind == "async" and not is_async:
        return f"{base.__name__} must be an async def (a coroutine function): {expected}"
    if kind == "async-gen" and not is_agen:
        return f"{base.__name__} must be an async generator (async def with yield): {expected}"
    args, kwargs = _how_called(base)
    try:
        inspect.signature(fn).bind(None, *args, **kwargs)
    except TypeError as err:
        return f"{base.__name__}{inspect.signature(fn)} cannot be called as {expected} ({err})"
    return None


def contract_problems(provider: type[Provider]) -> list[str]:
    """What is wrong with ``provider``'s overrides of the contract methods: an override
    whose parameters do not take the core's call, a sync method made async (or the
    reverse), an async twin overridden without its sync method. Empty when all is well."""
    problems: list[str] = []
    for method in CONTRACT:
        sync_done = provider.overrides(method.sync)
        if sync_done:
            problems.append(_shape_problem(provider, method.sync, "sync") or "")
        if provider.overrides(method.async_):
            kind = "async-gen" if method.streams else "async"
            problems.append(_shape_problem(provider, method.async_, kind) or "")
            if not sync_done:
                problems.append(
                    f"{method.async_.__name__} is implemented but {method.sync.__name__} is "
                    "not: implement the sync method (the async twin is optional)"
                )
    for lifecycle in (Provider.close, Provider.aclose):
        if provider.overrides(lifecycle):
            is_async = lifecycle is Provider.aclose
            problems.append(
                _shape_problem(provider, lifecycle, "async" if is_async else "sync") or ""
            )
    return [p for p in problems if p]


class ProviderRegistry:
    """Provider classes by name. Build your own in tests, or use :func:`ftsdk.providers`.

    >>> from ftsdk import Provider
    >>> class Echo(Provider):
    ...     name = "echo"
    >>> reg = ProviderRegistry()
    >>> reg.register(Echo)
    >>> reg.get("echo") is Echo
    True
    """

    def __init__(self) -> None:
        self._registrations: dict[str, Registration] = {}
        self.failures: list[PluginFailure] = []
        """Plugins that failed to load or register, in load order."""

    def register(
        self,
        provider: type[Provider],
        *,
        distribution: str = "<direct>",
        version: str | None = None,
        plugin: str | None = None,
    ) -> None:
        """Validate ``provider`` and add it.

        :raises PluginError: not a provider, a bad name, dishonest capabilities, or a
            name taken already (the error names both distributions).
        """
        checked = _check(provider)
        taken = self._registrations.get(checked.name)
        if taken is not None:
            raise PluginError(
                f"provider name {checked.name!r} from {distribution} is already registered "
                f"by {taken.distribution} ({taken.provider.__module__}."
                f"{taken.provider.__qualname__})"
            )
        self._registrations[checked.name] = Registration(checked, distribution, version, plugin)

    def registrar(
        self, *, distribution: str, version: str | None = None, plugin: str | None = None
    ) -> Register:
        """A ``register`` callable that records ``distribution`` as the source."""

        def register(provider: type[Provider]) -> None:
            self.register(provider, distribution=distribution, version=version, plugin=plugin)

        return register

    def get(self, name: str) -> type[Provider]:
        """The provider class registered as ``name``.

        :raises ConfigurationError: naming the providers there are, and any plugin that
            failed to load.
        """
        try:
            return self._registrations[name].provider
        except KeyError:
            known = ", ".join(sorted(self._registrations)) or "none"
            close = difflib.get_close_matches(str(name), self._registrations, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}? " if close else ""
            message = f"no provider named {name!r}; {hint}registered: {known}"
            if self.failures:
                failed = "; ".join(f"{f.plugin} ({f.error})" for f in self.failures)
                message += f". Plugins that failed to load: {failed}"
            raise ConfigurationError(message) from None

    def registration(self, name: str) -> Registration:
        """Where ``name`` came from."""
        self.get(name)
        return self._registrations[name]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._registrations)

    def __iter__(self) -> Iterator[Registration]:
        return iter(sorted(self._registrations.values(), key=lambda r: r.name))

    def __contains__(self, name: object) -> bool:
        return name in self._registrations

    def __len__(self) -> int:
        return len(self._registrations)

    def __repr__(self) -> str:
        return f"<ProviderRegistry {self.names()} failures={len(self.failures)}>"


def options_schema(provider: type[Provider]) -> dict[str, object]:
    """The JSON schema of a provider's ``Options``, for docs and the CLI."""
    options: type[BaseModel] = provider.Options
    return options.model_json_schema()
