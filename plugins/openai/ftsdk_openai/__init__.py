"""OpenAI fine-tuning (files, Uploads API, SFT/DPO jobs, inference) for ftsdk.

The entry point of the ``ftsdk`` group: importing it must stay cheap (no SDK, no torch).
"""

from __future__ import annotations

import ftsdk
from ftsdk.registry import Register
from ftsdk_openai.provider import OpenAIProvider

__all__ = ["OpenAIProvider", "register_providers"]


@ftsdk.hookimpl
def register_providers(register: Register) -> None:
    """Register :class:`OpenAIProvider`."""
    register(OpenAIProvider)
