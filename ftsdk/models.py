"""Models: base, fine-tuned, checkpoints and deployments; the model handles, :class:`Model`
and its async twin :class:`AsyncModel`, and their answer streams, :class:`ChatStream` and
:class:`AsyncChatStream`, side by side."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ftsdk.capabilities import Capabilities, Operation

if TYPE_CHECKING:
    from ftsdk._client import AsyncClient, Client
    from ftsdk.serving.gguf import Exported

__all__ = [
    "AsyncChatStream",
    "AsyncModel",
    "ChatChunk",
    "ChatParams",
    "ChatResponse",
    "ChatStream",
    "Model",
    "ModelInfo",
    "Usage",
    "chat_arguments",
]


class ModelInfo(BaseModel):
    """What is known of a model. Providers return these."""

    model_config = ConfigDict(frozen=True)

    id: str
    provider: str
    kind: Literal["base", "fine-tuned", "checkpoint", "deployment"] = "fine-tuned"
    base_model: str | None = None
    job_id: str | None = None
    deployment: str | None = None
    """The deployment's name, for providers that serve models through deployments."""
    path: Path | None = None
    """Local weights, for local providers."""
    created_at: datetime | None = None


class ChatParams(BaseModel):
    """Sampling settings for one chat request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    """Nucleus sampling; ``0`` keeps only the likeliest token (as greedy decoding)."""
    seed: int | None = None
    stop: list[str] | None = None


class Usage(BaseModel):
    """Tokens a request consumed."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


class ChatResponse(BaseModel):
    """The answer to a chat request."""

    model_config = ConfigDict(frozen=True)

    content: str
    model: str
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None
    refusal: str | None = None
    """What the model said instead of answering, when it refused (OpenAI's ``refusal``);
    ``content`` is then usually empty."""


class ChatChunk(BaseModel):
    """A piece of a streamed answer. Providers yield these from ``stream_chat``."""

    model_config = ConfigDict(frozen=True)

    content: str = ""
    """The text the model wrote since the previous chunk (may be empty)."""
    finish_reason: str | None = None
    """Why the answer ended, on the last chunk: ``stop``, ``length``, ..."""
    usage: Usage | None = None
    """The request's tokens, on the last chunk, when the provider reports them."""
    model: str | None = None
    """The model that answers, when the provider says."""
    refusal: str = ""
    """A piece of the model's refusal since the previous chunk (may be empty)."""


class _Answer:
    """What the chunks of a stream add up to (for :class:`ChatStream` and its async twin)."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._parts: list[str] = []
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._refusal: list[str] = []

    def take(self, chunk: ChatChunk) -> str:
        """Keep what ``chunk`` says; return its new text (may be empty)."""
        if chunk.model:
            self._model = chunk.model
        if chunk.finish_reason is not None:
            self._finish = chunk.finish_reason
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.refusal:
            self._refusal.append(chunk.refusal)
        if chunk.content:
            self._parts.append(chunk.content)
        return chunk.content

    def response(self) -> ChatResponse:
        return ChatResponse(
            content="".join(self._parts),
            model=self._model,
            usage=self._usage or Usage(),
            finish_reason=self._finish,
            refusal="".join(self._refusal) if self._refusal else None,
        )


def whole_answer(response: ChatResponse) -> ChatChunk:
    """A whole answer as the one chunk of a stream (providers that do not stream)."""
    return ChatChunk(
        content=response.content,
        finish_reason=response.finish_reason,
        usage=response.usage,
        model=response.model,
        refusal=response.refusal or "",
    )


_ChunksT = TypeVar("_ChunksT", Iterator[ChatChunk], AsyncIterator[ChatChunk])


class _Stream(Generic[_ChunksT]):
    """What :class:`ChatStream` and its async twin share: the provider's pieces and the
    answer they add up to (the loops differ only in ``next`` against ``await anext``)."""

    def __init__(self, chunks: _ChunksT, model: str, *, streamed: bool) -> None:
        self._chunks: _ChunksT = chunks
        self._answer = _Answer(model)
        self._done = False
        self.streamed = streamed
        """Whether the provider streams (``stream`` operation); when not, the whole answer
        comes as one piece."""


class ChatStream(_Stream[Iterator[ChatChunk]]):
    """An answer as the model writes it: iterate to get each new piece of text; once it
    has ended, :attr:`response` holds the whole answer, its usage and finish reason::

        stream = model.stream("Tell me a story")
        for text in stream:
            print(text, end="", flush=True)
        print(stream.response.usage)

    Use it as a context manager (or call :meth:`close`) to stop early: the provider stops
    generating where it can.
    """

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> str:
        while True:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._done = True
                raise
            text = self._answer.take(chunk)
            if text:
                return text

    @property
    def response(self) -> ChatResponse:
        """The whole answer; read it after iterating (it reads what is left first)."""
        if not self._done:
            for _ in self:
                pass
        return self._answer.response()

    def close(self) -> None:
        """Stop reading; the provider stops generating where it can."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncChatStream(_Stream[AsyncIterator[ChatChunk]]):
    """:class:`ChatStream` for ``async for``::

    async with model.stream("Tell me a story") as stream:
        async for text in stream:
            print(text, end="")
    print(stream.response.usage)
    """

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> str:
        while True:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self._done = True
                raise
            text = self._answer.take(chunk)
            if text:
                return text

    @property
    def response(self) -> ChatResponse:
        """The whole answer, once the stream has been read to its end (a property cannot
        await what is left, so read it with ``async for`` first)."""
        if not self._done:
            raise RuntimeError("read the stream to its end (async for) before its response")
        return self._answer.response()

    async def aclose(self) -> None:
        """Stop reading; the provider stops generating where it can."""
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def needs_deployment(info: ModelInfo, capabilities: Capabilities) -> bool:
    """Whether the model must be deployed before it can answer (Azure-like providers)."""
    return info.kind != "deployment" and capabilities.supports(Operation.DEPLOY)


def chat_arguments(
    info: ModelInfo, messages: str | Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> tuple[ModelInfo, list[dict[str, Any]], ChatParams]:
    """What :meth:`ftsdk.Provider.chat` receives: one user message or a conversation, and
    checked sampling settings."""
    from ftsdk.errors import InvalidRequest

    try:
        checked = ChatParams(**params)
    except ValueError as err:
        raise InvalidRequest(f"bad chat parameters: {err}", provider=info.provider) from err
    if isinstance(messages, str):
        return info, [{"role": "user", "content": messages}], checked
    return info, [dict(message) for message in messages], checked


class _ModelView:
    """What :class:`Model` and :class:`AsyncModel` share: the model's description."""

    info: ModelInfo

    @property
    def id(self) -> str:
        """The provider's model id."""
        return self.info.id

    @property
    def provider(self) -> str:
        """The provider's registered name."""
        return self.info.provider

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} provider={self.provider} kind={self.info.kind}>"


class Model(_ModelView):
    """A model you can chat with, deploy or delete, on any provider.

    >>> # model = job.model; model.chat("What is 2 + 2?").content
    """

    def __init__(self, client: Client, info: ModelInfo) -> None:
        self._client = client
        self.info = info

    def chat(self, messages: str | Sequence[Mapping[str, Any]], **params: Any) -> ChatResponse:
        """Send a conversation (or one user message) and return the model's answer.

        :param params: :class:`ChatParams` fields: ``max_tokens``, ``temperature``,
            ``top_p``, ``seed``, ``stop``.
        """
        return self._client.call(
            self._client.provider.chat, *chat_arguments(self.info, messages, params)
        )

    def stream(self, messages: str | Sequence[Mapping[str, Any]], **params: Any) -> ChatStream:
        """Like :meth:`chat`, but the answer comes piece by piece as the model writes it (a
        :class:`ChatStream` to iterate). Providers that do not stream (no ``stream``
        operation) give the whole answer as one piece, so the same code runs everywhere."""
        args = chat_arguments(self.info, messages, params)
        if not self._client.capabilities.supports(Operation.STREAM):
            whole = whole_answer(self._client.call(self._client.provider.chat, *args))
            return ChatStream(iter([whole]), self.id, streamed=False)
        chunks = self._client.call_stream(self._client.provider.stream_chat, *args)
        return ChatStream(chunks, self.id, streamed=True)

    def deploy(self, name: str | None = None, **options: Any) -> Model:
        """Deploy the model (for providers that serve through deployments).

        :param name: the deployment's name; the provider picks one when ``None``.
        :param options: provider-specific settings such as ``sku`` and ``capacity``.
        :returns: the deployed model; its :meth:`chat` calls the deployment.
        """
        info = self._client.call(
            self._client.provider.deploy_model, self.info, name=name, options=options
        )
        return Model(self._client, info)

    def ensure_deployed(self, name: str | None = None, **options: Any) -> Model:
        """A model you can chat with: deployed (see :meth:`deploy`) where the provider serves
        through deployments, this model itself where it does not. Lets one piece of code
        run on every provider::

            served = model.ensure_deployed("my-model")
            print(served.chat("Hello").content)
            if served is not model:
                served.undeploy()
        """
        if not needs_deployment(self.info, self._client.capabilities):
            return self
        return self.deploy(name, **options)

    def undeploy(self) -> None:
        """Remove this model's deployment (it may cost money by the hour)."""
        self._client.call(self._client.provider.undeploy_model, self.info)

    def delete(self) -> None:
        """Delete this fine-tuned model from the provider."""
        self._client.call(self._client.provider.delete_model, self.info)

    def export(
        self, format: str, output: str | Path | None = None, *, quantization: str = "f16"
    ) -> Exported:
        """Write the model's local weights as ``format`` (``"gguf"``: llama.cpp, Ollama) into
        ``output`` (default ``./<model folder name>-gguf``), with an Ollama ``Modelfile``
        beside them; an adapter becomes its base's GGUF plus the adapter's. See
        :mod:`ftsdk.serving.gguf` (``quantization``: ``f32``, ``f16``, ``bf16``, ``q8_0``).

        >>> # model.export("gguf", "out", quantization="q8_0").modelfile
        """
        return _export(self, format, output, quantization)

    def push_to_hub(self, repo_id: str, *, private: bool = True) -> str:
        """Publish the model's weights (or adapter) to the Hugging Face Hub repository
        ``repo_id``, creating it if needed (private unless told otherwise); returns the
        repository's URL. The token comes from the provider's settings (``HF_TOKEN``)."""
        return self._client.call(
            self._client.provider.push_model, self.info, repo_id=repo_id, private=private
        )


class AsyncModel(_ModelView):
    """The async twin of :class:`Model`: the same handle, its calls awaited."""

    def __init__(self, client: AsyncClient, info: ModelInfo) -> None:
        self._client = client
        self.info = info

    async def chat(
        self, messages: str | Sequence[Mapping[str, Any]], **params: Any
    ) -> ChatResponse:
        """Send a conversation (or one user message); await the answer (see
        :meth:`Model.chat`)."""
        return await self._client.call(
            self._client.provider.achat, *chat_arguments(self.info, messages, params)
        )

    def stream(self, messages: str | Sequence[Mapping[str, Any]], **params: Any) -> AsyncChatStream:
        """The answer piece by piece (see :meth:`Model.stream`), to ``async for``."""
        args = chat_arguments(self.info, messages, params)
        if not self._client.capabilities.supports(Operation.STREAM):
            self._client.require(Operation.CHAT)
            client = self._client

            async def whole() -> AsyncIterator[ChatChunk]:
                yield whole_answer(await client.call(client.provider.achat, *args))

            return AsyncChatStream(whole(), self.id, streamed=False)
        chunks = self._client.call_stream(self._client.provider.astream_chat, *args)
        return AsyncChatStream(chunks, self.id, streamed=True)

    async def deploy(self, name: str | None = None, **options: Any) -> AsyncModel:
        """Deploy the model (see :meth:`Model.deploy`)."""
        info = await self._client.call(
            self._client.provider.adeploy_model, self.info, name=name, options=options
        )
        return AsyncModel(self._client, info)

    async def ensure_deployed(self, name: str | None = None, **options: Any) -> AsyncModel:
        """See :meth:`Model.ensure_deployed`."""
        if not needs_deployment(self.info, self._client.capabilities):
            return self
        return await self.deploy(name, **options)

    async def undeploy(self) -> None:
        """Remove this model's deployment."""
        await self._client.call(self._client.provider.aundeploy_model, self.info)

    async def delete(self) -> None:
        """Delete this fine-tuned model from the provider."""
        await self._client.call(self._client.provider.adelete_model, self.info)

    async def export(
        self, format: str, output: str | Path | None = None, *, quantization: str = "f16"
    ) -> Exported:
        """See :meth:`Model.export`; the conversion runs in a worker thread."""
        import asyncio

        return await asyncio.to_thread(_export, self, format, output, quantization)

    async def push_to_hub(self, repo_id: str, *, private: bool = True) -> str:
        """See :meth:`Model.push_to_hub`."""
        return await self._client.call(
            self._client.provider.apush_model, self.info, repo_id=repo_id, private=private
        )


def _export(
    model: Model | AsyncModel, format: str, output: str | Path | None, quantization: str
) -> Exported:
    """:meth:`Model.export` for either twin: the format checked, the default folder named."""
    from ftsdk.errors import InvalidRequest
    from ftsdk.serving.gguf import export_model

    if format != "gguf":
        raise InvalidRequest(f"unknown export format {format!r}; choose gguf", field="format")
    target = output if output is not None else Path(f"{Path(model.id).name}-gguf")
    return export_model(model, target, quantization=quantization)
