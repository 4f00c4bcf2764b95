"""Azure OpenAI fine-tuning, ARM deployments and inference for ftsdk.

The entry point of the ``ftsdk`` group: importing it must stay cheap (no SDK, no torch).
"""

from __future__ import annotations

import ftsdk
from ftsdk.registry import Register
from ftsdk_azure.provider import AzureOpenAIProvider

__all__ = ["AzureOpenAIProvider", "register_providers"]


@ftsdk.hookimpl
def register_providers(register: Register) -> None:
    """Register :class:`AzureOpenAIProvider`."""
    register(AzureOpenAIProvider)
