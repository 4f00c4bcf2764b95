"""An example ftsdk provider: a "model" that answers with what you said, shouted.

A real plugin has the same shape: a Provider subclass that declares what it does,
implements exactly that, keeps secrets as SecretStr, and registers through one hook.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

import ftsdk
from ftsdk import Capabilities, ChatParams, ChatResponse, ModelInfo, Operation, Usage
from ftsdk.credentials import resolve_secret
from ftsdk.errors import AuthenticationError, NotFound
from ftsdk.registry import Register

__all__ = ["EchoOptions", "EchoProvider", "register_providers"]


class EchoOptions(ftsdk.ProviderOptions):
    """Keys allowed in ``JobSpec.provider_options`` (echo trains nothing, so none)."""


class EchoProvider(ftsdk.Provider):
    """Chat with ``echo-1``; it repeats your last message in capitals."""

    name = "echo"
    display_name = "Echo (example plugin)"
    capabilities = Capabilities(operations=frozenset({Operation.CHAT}))
    Options = EchoOptions
    credential_env_vars = ("ECHO_API_KEY",)
    models = ("echo-1",)

    def __init__(self, *, api_key: str | SecretStr | None = None) -> None:
        self.api_key = resolve_secret(
            api_key, ["ECHO_API_KEY"], provider=self.name, argument="api_key"
        )

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        if self.api_key is None or not self.api_key.get_secret_value().startswith("echo-"):
            raise AuthenticationError("API keys start with 'echo-'", provider=self.name)
        if model.id not in self.models:
            raise NotFound(f"no model {model.id!r}; try {self.models}", provider=self.name)
        said = str(messages[-1]["content"])
        words = said.upper().split()[: params.max_tokens]
        return ChatResponse(
            content=" ".join(words),
            model=model.id,
            usage=Usage(prompt_tokens=len(said.split()), completion_tokens=len(words)),
            finish_reason="stop",
        )


@ftsdk.hookimpl
def register_providers(register: Register) -> None:
    """Register the echo provider."""
    register(EchoProvider)
