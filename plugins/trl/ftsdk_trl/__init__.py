"""Local SFT/DPO fine-tuning with Hugging Face TRL for ftsdk.

The entry point of the ``ftsdk`` group: importing it must stay cheap (no SDK, no torch).
"""

from __future__ import annotations

import ftsdk
from ftsdk.registry import Register
from ftsdk_trl.provider import TRLOptions, TRLProvider

__all__ = ["TRLOptions", "TRLProvider", "register_providers"]


@ftsdk.hookimpl
def register_providers(register: Register) -> None:
    """Register :class:`TRLProvider`."""
    register(TRLProvider)
