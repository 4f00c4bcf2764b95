"""Plugin discovery: entry points of the group ``ftsdk``, loaded one by one.

A plugin that fails to import or register becomes a warning and a
:class:`~ftsdk.registry.PluginFailure`; the others still load. Two environment variables
choose plugins by entry-point name, comma separated:

- ``FTSDK_PLUGINS``: load only these (an allow-list).
- ``FTSDK_DISABLE_PLUGINS``: skip these (a block-list); ``__all__`` skips every plugin.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
import warnings
from collections.abc import Mapping

import pluggy

from ftsdk import hookspecs
from ftsdk.registry import PluginFailure, ProviderRegistry

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginLoadWarning",
    "load_registry",
    "providers",
    "reset_registry",
]

ENTRY_POINT_GROUP = "ftsdk"

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
