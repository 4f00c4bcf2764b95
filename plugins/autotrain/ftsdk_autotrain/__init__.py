"""AutoTrain (autotrain-advanced, in a runtime venv of its own) as an ftsdk provider.

The entry point of the ``ftsdk`` group: importing it must stay cheap (no SDK, no torch).
"""

from __future__ import annotations

import ftsdk
from ftsdk.registry import Register
from ftsdk_autotrain.provider import AutoTrainProvider

__all__ = ["AutoTrainProvider", "register_providers"]


@ftsdk.hookimpl
def register_providers(register: Register) -> None:
    """Register :class:`AutoTrainProvider`."""
    register(AutoTrainProvider)
