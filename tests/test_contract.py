"""The typed provider contract: registration refuses a provider whose methods do not fit
it, naming the provider and the method; the async twins run the sync methods in worker
threads unless a provider overrides them; ``aclose`` releases what a provider holds."""

from __future__ import annotations

import asyncio
import re
import threading
import typing
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import ftsdk
from ftsdk import (
    Capabilities,
    ChatChunk,
    ChatParams,
    ChatResponse,
    JobState,
    JobStatus,
    ModelInfo,
    Operation,
    Provider,
)
from ftsdk.errors import PluginError
from ftsdk.provider import CONTRACT, contract_method

CHAT = Capabilities(operations={Operation.CHAT, Operation.STREAM})


def register(cls: type[Provider]) -> ftsdk.ProviderRegistry:
    registry = ftsdk.ProviderRegistry()
    registry.register(cls)
    return registry


class Talker(Provider):
    """Chats in worker threads: only the sync methods, as most plugins write them."""

    name = "talker"
    capabilities = CHAT

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.closed = False

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        self.threads.append(threading.get_ident())
        return ChatResponse(content=f"you said {messages[-1]['content']}", model=model.id)

    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ChatChunk]:
        self.threads.append(threading.get_ident())
        for word in str(messages[-1]["content"]).split():
            yield ChatChunk(content=word + " ")
        yield ChatChunk(finish_reason="stop")

    def close(self) -> None:
        self.closed = True


class NativeTalker(Talker):
    """Overrides the async twins, as a provider with an async client does."""

    name = "native-talker"

    def __init__(self) -> None:
        super().__init__()
        self.native: list[str] = []
        self.aclosed = False

    async def achat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        self.native.append("achat")
        return ChatResponse(content="natively", model=model.id)

    async def astream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> AsyncIterator[ChatChunk]:
        self.native.append("astream_chat")
        for word in ("native", "pieces"):
            yield ChatChunk(content=word + " ")

    async def aclose(self) -> None:
        self.aclosed = True


def test_registration_accepts_sync_only_and_native_async_providers() -> None:
    assert register(Talker).get("talker") is Talker
    assert register(NativeTalker).get("native-talker") is NativeTalker


def test_a_declared_operation_must_be_implemented() -> None:
    class Lazy(Provider):
        name = "lazy"
        capabilities = CHAT

        def chat(
            self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
        ) -> ChatResponse:
            raise NotImplementedError

    with pytest.raises(PluginError, match=r"Lazy \(lazy\) declares 'stream'.*\['stream_chat'\]"):
        register(Lazy)


def test_a_wrong_signature_is_refused_naming_provider_and_method() -> None:
    class Sloppy(Talker):
        name = "sloppy"

        def chat(self, model: ModelInfo) -> ChatResponse:  # type: ignore[override]
            raise NotImplementedError

    with pytest.raises(PluginError) as caught:
        register(Sloppy)
    message = str(caught.value)
    assert message.startswith("Sloppy (sloppy) breaks the provider contract: ")
    assert "chat(self, model: 'ModelInfo') -> 'ChatResponse' cannot be called as chat(" in message


def test_a_required_parameter_the_core_does_not_pass_is_refused() -> None:
    class Positional(Provider):
        name = "positional"
        capabilities = Capabilities(operations={Operation.LIST_JOBS})

        def list_jobs(self, limit: int, extra: int) -> list[JobState]:  # type: ignore[override]
            return []

    with pytest.raises(PluginError, match=r"list_jobs.*missing a required argument: 'extra'"):
        register(Positional)


def test_extra_parameters_with_defaults_are_allowed() -> None:
    class Generous(Provider):
        name = "generous"
        capabilities = Capabilities(operations={Operation.LIST_JOBS})

        def list_jobs(self, *, limit: int, verbose: bool = False) -> list[JobState]:
            return []

    assert "generous" in register(Generous)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            "async def chat(self, model, messages, params): ...",
            "chat must be a plain (sync) method",
        ),
        (
            "def achat(self, model, messages, params): ...",
            "achat must be an async def",
        ),
        (
            "async def astream_chat(self, model, messages, params): return None",
            "astream_chat must be an async generator",
        ),
        ("def aclose(self): ...", "aclose must be an async def"),
    ],
)
def test_sync_and_async_forms_are_not_mixed_up(body: str, why: str) -> None:
    namespace: dict[str, Any] = {}
    exec(body, namespace)  # each a method written the wrong way round, as a slip would be
    method = next(v for k, v in namespace.items() if not k.startswith("__"))
    broken = type("Broken", (Talker,), {"name": "broken", method.__name__: method})
    with pytest.raises(
        PluginError, match=r"Broken \(broken\) breaks the provider contract.*" + re.escape(why)
    ):
        register(broken)


def test_an_async_twin_without_its_sync_method_is_refused() -> None:
    class AsyncOnly(Provider):
        name = "async-only"

        async def aget_job(self, job_id: str) -> JobState:
            raise NotImplementedError

    with pytest.raises(PluginError, match="aget_job is implemented but get_job is not"):
        register(AsyncOnly)


def test_default_async_twins_run_the_sync_methods_in_worker_threads() -> None:
    client = ftsdk.async_client("talker", registry=register(Talker))
    provider = client.provider
    assert isinstance(provider, Talker)

    async def talk() -> tuple[str, list[str], int]:
        loop_thread = threading.get_ident()
        answer = await client.model("m").chat("hello there")
        async with client.model("m").stream("one two three") as stream:
            pieces = [piece async for piece in stream]
        await client.aclose()
        return answer.content, pieces, loop_thread

    content, pieces, loop_thread = asyncio.run(talk())
    assert content == "you said hello there"
    assert pieces == ["one ", "two ", "three "]
    assert len(provider.threads) == 2
    assert loop_thread not in provider.threads
    assert provider.closed  # the default aclose ran close


def test_native_async_twins_are_used_when_a_provider_has_them() -> None:
    client = ftsdk.async_client("native-talker", registry=register(NativeTalker))
    provider = client.provider
    assert isinstance(provider, NativeTalker)

    async def talk() -> tuple[str, str]:
        async with client:
            answer = await client.model("m").chat("hi")
            async with client.model("m").stream("hi") as stream:
                text = "".join([piece async for piece in stream])
        return answer.content, text

    assert asyncio.run(talk()) == ("natively", "native pieces ")
    assert provider.native == ["achat", "astream_chat"]
    assert provider.threads == []  # no sync method ran
    assert provider.aclosed
    assert not provider.closed


def test_calls_are_typed_by_the_method_not_a_name() -> None:
    client = ftsdk.client("talker", registry=register(Talker))
    assert client.call(client.provider.chat, *_args("hey")).content == "you said hey"
    with pytest.raises(TypeError, match="is not an operation method"):
        client.call(client.provider.secrets)
    with pytest.raises(ftsdk.errors.UnsupportedOperation, match="talker does not support 'train'"):
        client.call(client.provider.get_job, "job-1")
    assert contract_method(client.provider, client.provider.achat).operation is Operation.CHAT


def test_every_operation_method_has_both_forms_in_the_contract() -> None:
    names = [m.sync.__name__ for m in CONTRACT]
    assert len(names) == len(set(names)) == 16
    assert all(m.async_.__name__ == f"a{m.sync.__name__}" for m in CONTRACT)
    state = JobState(id="j", provider="x", status=JobStatus.QUEUED, raw_status="queued")
    assert state.status is JobStatus.QUEUED


def _args(text: str) -> tuple[ModelInfo, list[dict[str, Any]], ChatParams]:
    return ModelInfo(id="m", provider="talker"), [{"role": "user", "content": text}], ChatParams()


def _classes(hint: object) -> Iterator[type]:
    if isinstance(hint, type):
        yield hint
    for arg in typing.get_args(hint):
        yield from _classes(arg)


def test_the_plugin_namespace_holds_every_type_of_the_contract() -> None:
    import ftsdk.plugin

    exported = {id(getattr(ftsdk.plugin, name)) for name in ftsdk.plugin.__all__}
    hints: list[object] = []
    for method in CONTRACT:
        for fn in (method.sync, method.async_):
            hints += typing.get_type_hints(fn).values()
    hints += typing.get_type_hints(ftsdk.plugin.TrainingRequest).values()
    needed = {cls for hint in hints for cls in _classes(hint) if cls.__module__.startswith("ftsdk")}
    assert {cls.__name__ for cls in needed} >= {"JobState", "ChatChunk", "TrainingRequest"}
    missing = sorted(cls.__name__ for cls in needed if id(cls) not in exported)
    assert missing == []
    assert ftsdk.plugin.Provider is ftsdk.Provider
