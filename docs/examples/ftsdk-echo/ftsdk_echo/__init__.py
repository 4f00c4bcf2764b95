"""An example ftsdk provider: a "model" that answers with what you said, shouted.

A real plugin has the same shape: a Provider subclass that declares what it does,
implements exactly that, maps its failures to ftsdk's errors, keeps secrets as SecretStr,
and registers through one hook.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import SecretStr

from ftsdk.plugin import (
    Capabilities,
    ChatChunk,
    ChatParams,
    ChatResponse,
    ModelInfo,
    Operation,
    Provider,
    ProviderOptions,
    Register,
    Usage,
    errors,
    hookimpl,
    resolve_secret,
)

__all__ = ["EchoOptions", "EchoProvider", "register_providers"]


class EchoOptions(ProviderOptions):
    """Keys allowed in ``JobSpec.provider_options`` (echo trains nothing, so none)."""


class EchoProvider(Provider):
    """Chat with ``echo-1``; it repeats your last message in capitals, word by word."""

    name = "echo"
    display_name = "Echo (example plugin)"
    capabilities = Capabilities(operations=frozenset({Operation.CHAT, Operation.STREAM}))
    Options = EchoOptions
    credential_env_vars = ("ECHO_API_KEY",)
    models = ("echo-1",)

    def __init__(self, *, api_key: str | SecretStr | None = None) -> None:
        self.api_key = resolve_secret(
            api_key, ["ECHO_API_KEY"], provider=self.name, argument="api_key"
        )

    def _words(
        self, model: ModelInfo, messages: list[dict[str, Any]], limit: int | None
    ) -> tuple[list[str], list[str]]:
        # What a real plugin does around each request: refuse as the service would.
        if self.api_key is None or not self.api_key.get_secret_value().startswith("echo-"):
            raise errors.AuthenticationError("API keys start with 'echo-'", provider=self.name)
        if model.id not in self.models:
            raise errors.NotFound(f"no model {model.id!r}; try {self.models}", provider=self.name)
        said = str(messages[-1]["content"])
        return said.split(), said.upper().split()[:limit]

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        heard, words = self._words(model, messages, params.max_tokens)
        usage = Usage(prompt_tokens=len(heard), completion_tokens=len(words))
        return ChatResponse(
            content=" ".join(words), model=model.id, usage=usage, finish_reason="stop"
        )

    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ChatChunk]:
        heard, words = self._words(model, messages, params.max_tokens)
        for i, word in enumerate(words):  # each chunk holds only the new text
            yield ChatChunk(content=word if i == 0 else f" {word}", model=model.id)
        usage = Usage(prompt_tokens=len(heard), completion_tokens=len(words))
        yield ChatChunk(finish_reason="stop", usage=usage)


@hookimpl
def register_providers(register: Register) -> None:
    """Register the echo provider."""
    register(EchoProvider)
