"""The plugin hook. A plugin module implements it with ``@ftsdk.hookimpl``::

@ftsdk.hookimpl
def register_providers(register):
    register(MyProvider)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ftsdk.registry import Register

__all__ = ["hookimpl", "hookspec", "register_providers"]

hookspec = pluggy.HookspecMarker("ftsdk")
hookimpl = pluggy.HookimplMarker("ftsdk")


@hookspec
def register_providers(register: Register) -> None:
    """Register the plugin's provider classes by calling ``register(ProviderClass)``.

    :param register: validates each class at once (a :class:`ftsdk.Provider` subclass, a
        unique name matching ``[a-z][a-z0-9-]*``, honest capabilities) and raises
        :class:`ftsdk.errors.PluginError` when it is not.
    """
