"""Plugin discovery: entry points of the group ``ftsdk``, loaded one by one.

A plugin that fails to import or register becomes a warning and a
:class:`~ftsdk.registry.PluginFailure`; the others still load. Two environment variables
choose plugins by entry-point name, comma separated:

- ``FTSDK_PLUGINS``: load only these (an allow-list).
- ``FTSDK_DISABLE_PLUGINS``: skip these (a block-list); ``__all__`` skips every plugin.

Plugins may also add commands to the ``ftsdk`` command line through the entry-point group
``ftsdk.cli`` (see :func:`plugin_commands`).
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
import warnings
from collections.abc import Mapping
from typing import Any

import pluggy

from ftsdk import hookspecs
from ftsdk.registry import PluginFailure, ProviderRegistry

__all__ = [
    "COMMAND_GROUP",
    "ENTRY_POINT_GROUP",
    "PluginLoadWarning",
    "load_registry",
    "plugin_commands",
    "providers",
    "reset_registry",
]

ENTRY_POINT_GROUP = "ftsdk"
COMMAND_GROUP = "ftsdk.cli"

_lock = threading.Lock()
_default: ProviderRegistry | None = None


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded; the others were."""


def _names(raw: str | None) -> set[str] | None:
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _fail(registry: ProviderRegistry, plugin: str, distribution: str, err: BaseException) -> None:
    error = f"{type(err).__name__}: {err}"
    registry.failures.append(PluginFailure(plugin, distribution, error))
    warnings.warn(
        f"ftsdk plugin {plugin!r} ({distribution}) failed to load and is skipped: {error}",
        PluginLoadWarning,
        stacklevel=3,
    )


def load_registry(
    *, group: str = ENTRY_POINT_GROUP, env: Mapping[str, str] | None = None
) -> ProviderRegistry:
    """A new registry holding the providers of every installed plugin.

    :param group: the entry-point group to read.
    :param env: where ``FTSDK_PLUGINS`` / ``FTSDK_DISABLE_PLUGINS`` are read (default
        ``os.environ``).
    """
    environ = os.environ if env is None else env
    allow = _names(environ.get("FTSDK_PLUGINS"))
    block = _names(environ.get("FTSDK_DISABLE_PLUGINS")) or set()
    registry = ProviderRegistry()
    manager = pluggy.PluginManager("ftsdk")
    manager.add_hookspecs(hookspecs)
    seen: set[str] = set()
    for ep in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist is not None else "<unknown>"
        version = ep.dist.version if ep.dist is not None else None
        if ep.name in seen:
            continue  # the same distribution seen twice on sys.path
        seen.add(ep.name)
        if "__all__" in block or ep.name in block or (allow is not None and ep.name not in allow):
            continue
        try:
            module = ep.load()
            manager.register(module, name=ep.name)
            impls = [
                i
                for i in manager.hook.register_providers.get_hookimpls()
                if i.plugin_name == ep.name
            ]
            if not impls:
                raise TypeError(f"{ep.value} has no @ftsdk.hookimpl register_providers")
            for impl in impls:
                impl.function(
                    register=registry.registrar(distribution=dist, version=version, plugin=ep.name)
                )
        except Exception as err:  # a broken plugin must never take the others down
            _fail(registry, ep.name, dist, err)
    return registry


def plugin_commands(
    *, group: str = COMMAND_GROUP, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The command-line commands plugins add to ``ftsdk``: each entry point of ``group``
    names a ``click`` command (``autotrain = "ftsdk_autotrain.cli:autotrain"`` gives
    ``ftsdk autotrain ...``). ``FTSDK_PLUGINS`` / ``FTSDK_DISABLE_PLUGINS`` apply to their
    names; one that fails to load is skipped with a :class:`PluginLoadWarning`."""
    environ = os.environ if env is None else env
    allow = _names(environ.get("FTSDK_PLUGINS"))
    block = _names(environ.get("FTSDK_DISABLE_PLUGINS")) or set()
    commands: dict[str, Any] = {}
    for ep in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
        if ep.name in commands or "__all__" in block or ep.name in block:
            continue
        if allow is not None and ep.name not in allow:
            continue
        try:
            command = ep.load()
            if not callable(command) or not hasattr(command, "params"):
                raise TypeError(f"{ep.value} is not a click command")
        except Exception as err:  # a broken plugin must never take the command line down
            warnings.warn(
                f"ftsdk command {ep.name!r} ({ep.value}) failed to load and is skipped: "
                f"{type(err).__name__}: {err}",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        commands[ep.name] = command
    return commands


def providers() -> ProviderRegistry:
    """The process-wide registry, built on first use from installed plugins."""
    global _default
    with _lock:
        if _default is None:
            _default = load_registry()
        return _default


def reset_registry() -> None:
    """Forget the process-wide registry; the next :func:`providers` call reloads plugins."""
    global _default
    with _lock:
        _default = None
