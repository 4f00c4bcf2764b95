"""``Model.stream``: pieces as the provider writes them, the whole answer at the end, early
stop, retries before the first piece only, secrets scrubbed; one piece where a provider does
not stream."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import ftsdk
from ftsdk import Capabilities, Operation, ProviderRegistry
from ftsdk.errors import ProviderUnavailable
from ftsdk.models import ChatChunk, ChatParams, ModelInfo, Usage
from tests.conftest import SECRET, MemoryProvider


class StreamingProvider(MemoryProvider):
    """Writes its answer a word at a time; ``broken_after`` words in, the connection drops."""

    name = "streaming"
    capabilities = Capabilities(
        operations=MemoryProvider.capabilities.operations | {Operation.STREAM},
        methods=MemoryProvider.capabilities.methods,
        data_formats=MemoryProvider.capabilities.data_formats,
        hyperparameters=MemoryProvider.capabilities.hyperparameters,
    )
    broken_after: int | None = None
    stopped: list[int] = []  # words written when a stream was closed

    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ChatChunk]:
        self._maybe_fail("stream_chat")
        words = f"{model.id} heard: {messages[-1]['content']}".split(" ")
        written = 0
        try:
            for i, word in enumerate(words):
                if self.broken_after is not None and i == self.broken_after:
                    raise ProviderUnavailable(
                        f"connection reset (key {SECRET})", provider=self.name
                    )
                yield ChatChunk(content=word if i == 0 else f" {word}", model=model.id)
                written += 1
            yield ChatChunk(
                finish_reason="stop", usage=Usage(prompt_tokens=3, completion_tokens=len(words))
            )
        finally:
            self.stopped.append(written)


@pytest.fixture
def streaming() -> ftsdk.Client:
    registry = ProviderRegistry()
    registry.register(StreamingProvider, distribution="tests")
    policy = ftsdk.RetryPolicy(max_attempts=3, initial_wait=0.0, jitter=0.0)
    StreamingProvider.stopped = []
    return ftsdk.client("streaming", registry=registry, api_key=SECRET, retry=policy)


def test_pieces_come_as_written_and_add_up_to_the_answer(streaming: ftsdk.Client) -> None:
    stream = streaming.model("m1").stream("one two three")
    assert stream.streamed
    pieces = list(stream)
    assert pieces == ["m1", " heard:", " one", " two", " three"]
    answer = stream.response
    assert answer.content == "m1 heard: one two three"
    assert answer.finish_reason == "stop"
    assert answer.usage == Usage(prompt_tokens=3, completion_tokens=5)
    assert answer.model == "m1"


def test_closing_early_stops_the_provider(streaming: ftsdk.Client) -> None:
    with streaming.model("m1").stream("one two three four") as stream:
        first = next(iter(stream))
    assert first == "m1"
    assert StreamingProvider.stopped == [0]  # closed while its first word was out


def test_a_failure_before_the_first_piece_is_retried(streaming: ftsdk.Client) -> None:
    provider = streaming.provider
    assert isinstance(provider, StreamingProvider)
    provider.failures = [ProviderUnavailable("busy", provider="streaming")]
    assert streaming.model("m1").stream("again").response.content == "m1 heard: again"
    assert provider.calls == ["stream_chat", "stream_chat"]


def test_a_failure_mid_stream_is_raised_once_and_scrubbed(streaming: ftsdk.Client) -> None:
    provider = streaming.provider
    assert isinstance(provider, StreamingProvider)
    provider.broken_after = 2
    seen: list[str] = []
    with pytest.raises(ProviderUnavailable) as raised:
        seen.extend(streaming.model("m1").stream("one two"))
    assert seen == ["m1", " heard:"]  # what came before the failure was delivered
    assert provider.calls == ["stream_chat"]  # not retried: the answer had started
    assert SECRET not in str(raised.value)


def test_a_provider_that_does_not_stream_gives_one_piece(client: ftsdk.Client) -> None:
    stream = client.model("m2").stream([{"role": "user", "content": "hi"}], max_tokens=5)
    assert not stream.streamed
    assert list(stream) == ["m2 heard: hi"]
    assert stream.response.usage.total_tokens == 7


def test_bad_settings_are_refused_before_any_request(streaming: ftsdk.Client) -> None:
    with pytest.raises(ftsdk.errors.InvalidRequest, match="max_tokens"):
        streaming.model("m1").stream("hi", max_tokens=0)
    assert streaming.provider.calls == []  # type: ignore[attr-defined]


def test_the_async_twin_streams_the_same_pieces(streaming: ftsdk.Client) -> None:
    async def read() -> tuple[list[str], ftsdk.ChatResponse, bool]:
        client = ftsdk.AsyncClient(streaming.provider, retry=streaming.retry)
        async with client.model("m1").stream("one two") as stream:
            pieces = [piece async for piece in stream]
        return pieces, stream.response, stream.streamed

    pieces, answer, streamed = asyncio.run(read())
    assert pieces == ["m1", " heard:", " one", " two"]
    assert answer.content == "m1 heard: one two"
    assert streamed


def test_the_async_twin_says_when_the_answer_is_not_read_yet(streaming: ftsdk.Client) -> None:
    async def peek() -> None:
        client = ftsdk.AsyncClient(streaming.provider)
        async with client.model("m1").stream("one") as stream:
            await anext(stream)
            _ = stream.response

    with pytest.raises(RuntimeError, match="read the stream to its end"):
        asyncio.run(peek())
    assert StreamingProvider.stopped == [0]  # and leaving the block stopped the provider


def test_the_async_twin_of_a_provider_that_does_not_stream(client: ftsdk.Client) -> None:
    async def read() -> tuple[list[str], ftsdk.ChatResponse, bool]:
        aclient = ftsdk.AsyncClient(client.provider, retry=client.retry)
        stream = aclient.model("m2").stream("hi")
        pieces = [piece async for piece in stream]
        return pieces, stream.response, stream.streamed

    pieces, answer, streamed = asyncio.run(read())
    assert (pieces, streamed) == (["m2 heard: hi"], False)
    assert answer.usage.total_tokens == 7
