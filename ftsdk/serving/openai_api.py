"""The OpenAI-compatible HTTP API in front of one ftsdk :class:`~ftsdk.Model`.

``GET /v1/models``, ``GET /v1/models/{id}`` and ``POST /v1/chat/completions`` (plain, or
streamed as server-sent ``chat.completion.chunk`` events ending with ``data: [DONE]``), and
``POST /v1/responses`` (:mod:`ftsdk.serving.responses_api`), in
OpenAI's request, response and error shapes, so the ``openai`` client and the tools built
on it work unchanged. Every error is ``{"error": {"message", "type", "param", "code"}}``.

A plain answer comes from :meth:`ftsdk.Model.chat`. A streamed one comes from
:meth:`ftsdk.Model.stream`, piece by piece as the provider writes it (a provider that does not
stream gives its whole answer, sent in word-sized chunks). The first piece is awaited before
the response starts, so an error before it (a refused key, a bad setting) is a plain JSON answer
with its status; an error after it ends the stream with a ``data: {"error": ...}`` event, as
OpenAI's API does, which the ``openai`` client raises.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from pydantic import SecretStr, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ftsdk.dataset.validation import lone_surrogate
from ftsdk.errors import (
    Conflict,
    FtsdkError,
    InvalidRequest,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    Timeout,
    UnsupportedOperation,
)
from ftsdk.models import ChatParams, ChatResponse, ChatStream, Model

__all__ = ["ApiError", "ChatRequest", "OpenAICompatibleAPI", "parse_chat_request", "word_pieces"]

log = logging.getLogger("ftsdk.serving")
T = TypeVar("T")

ROLES = ("system", "developer", "user", "assistant")
ACCEPTED = frozenset(
    {"model", "messages", "stream", "stream_options", "n"}
    | {"max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "stop"}
)
IGNORED = frozenset(
    {"user", "metadata", "store", "service_tier", "safety_identifier"}
    | {"prompt_cache_key", "prompt_cache_retention", "prompt_cache_options"}
)
"""Accepted and without effect: they concern OpenAI's accounting and caching, not the
answer."""
NEUTRAL: Mapping[str, Any] = {
    "frequency_penalty": 0,
    "presence_penalty": 0,
    "logprobs": False,
    "logit_bias": {},
    "tools": [],
    "parallel_tool_calls": True,
}
"""Accepted only at the value that changes nothing (some clients always send them)."""
UNSUPPORTED = frozenset(
    {
        "tool_choice",
        "functions",
        "function_call",
        "response_format",
        "top_logprobs",
        "audio",
        "modalities",
        "prediction",
        "reasoning_effort",
        "web_search_options",
        "verbosity",
        "moderation",
    }
)
MAX_BODY_BYTES = 32 * 1024 * 1024
"""Largest request body read; a larger one is refused with 413 before it is all read."""
INT64 = (-(2**63), 2**63 - 1)
"""The range of ``seed`` in OpenAI's published API (a 64-bit integer)."""
FINISH_REASONS = frozenset({"stop", "length", "content_filter", "tool_calls", "function_call"})


class ApiError(Exception):
    """An error answer: its HTTP status and OpenAI's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type_: str = "invalid_request_error",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = (
            status,
            message,
            param,
            code,
            type_,
        )
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """``{"error": {...}}`` as OpenAI writes it."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass(frozen=True)
class ChatRequest:
    """A checked ``POST /v1/chat/completions`` body."""

    model: str
    messages: list[dict[str, str]]
    params: ChatParams
    stream: bool = False
    include_usage: bool = False


async def _read_body(request: Request) -> bytes:
    """The request's body, refused (413) past :data:`MAX_BODY_BYTES` without reading it all."""
    too_large = ApiError(
        413,
        f"Your request body is larger than {MAX_BODY_BYTES // 2**20} MiB.",
        code="request_too_large",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _bad(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def _text(content: Any, where: str) -> str:
    """A message's content as text: a string, or a list of ``{"type": "text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise _bad(
                    f"{where}[{j}]: only text parts are supported, not {kind!r}", f"{where}[{j}]"
                )
            if not isinstance(part.get("text"), str):
                raise _bad(f"{where}[{j}].text: must be a string", f"{where}[{j}].text")
            texts.append(part["text"])
        return "".join(texts)
    raise _bad(f"{where}: must be a string or a list of text parts", where)


def _messages(raw: Any) -> list[dict[str, str]]:
    if raw is None:
        raise _bad(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    if not isinstance(raw, list) or not raw:
        raise _bad("messages: must be a non-empty array of messages", "messages")
    checked = []
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _bad(f"{where}: must be an object with 'role' and 'content'", where)
        role = message.get("role")
        if role in ("tool", "function") or message.get("tool_calls"):
            raise _bad(f"{where}: tool calls are not supported by ftsdk serve", f"{where}.role")
        if role not in ROLES:
            raise _bad(
                f"{where}.role: {role!r} is not one of {', '.join(map(repr, ROLES))}",
                f"{where}.role",
            )
        if "content" not in message or message["content"] is None:
            raise _bad(f"{where}.content: missing", f"{where}.content")
        content = _text(message["content"], f"{where}.content")
        # OpenAI's newer name for system messages; chat templates know "system".
        checked.append({"role": "system" if role == "developer" else role, "content": content})
    return checked


def _params(body: Mapping[str, Any]) -> ChatParams:
    values: dict[str, Any] = {}
    if body.get("max_tokens") is not None and body.get("max_completion_tokens") is not None:
        raise _bad("give max_tokens or max_completion_tokens, not both", "max_tokens")
    for key in ("max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "stop"):
        if body.get(key) is not None:
            values["max_tokens" if key == "max_completion_tokens" else key] = body[key]
    if isinstance(values.get("stop"), str):
        values["stop"] = [values["stop"]]
    seed = values.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and not INT64[0] <= seed <= INT64[1]:
        raise _bad(
            f"Invalid value for 'seed': must be an integer from {INT64[0]} to {INT64[1]}",
            "seed",
            "integer_out_of_range",
        )
    try:
        return ChatParams.model_validate(values, strict=True)
    except ValidationError as err:
        first = err.errors()[0]
        param = str(first["loc"][0]) if first["loc"] else None
        if param == "max_tokens" and "max_completion_tokens" in body:
            param = "max_completion_tokens"
        raise _bad(f"Invalid value for '{param}': {first['msg']}", param) from None


def _check_keys(body: Mapping[str, Any]) -> None:
    for key, value in body.items():
        if value is None or key in ACCEPTED or key in IGNORED:
            continue
        if key in NEUTRAL:
            if value != NEUTRAL[key]:
                raise _bad(
                    f"{key} is not supported by ftsdk serve (it forwards max_tokens, "
                    "temperature, top_p, seed and stop to the model)",
                    key,
                    "unsupported_parameter",
                )
        elif key in UNSUPPORTED:
            raise _bad(f"{key} is not supported by ftsdk serve", key, "unsupported_parameter")
        else:
            raise _bad(f"Unrecognized request argument supplied: {key}", key)


def _streaming(body: Mapping[str, Any]) -> tuple[bool, bool]:
    """``stream``, and whether the usage is asked for at its end."""
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream: must be true or false", "stream")
    options = body.get("stream_options")
    if options is not None and not stream:
        raise _bad("stream_options: only allowed when stream is true", "stream_options")
    if options is not None and not isinstance(options, dict):
        raise _bad("stream_options: must be an object", "stream_options")
    return bool(stream), bool((options or {}).get("include_usage"))


def request_model(body: Any, check_keys: Callable[[Mapping[str, Any]], None]) -> str:
    """The checks every request body starts with (a JSON object of text, its keys by
    ``check_keys``); its ``model``."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    broken = lone_surrogate(body)
    if broken is not None:  # JSON's "\\ud800" escape: valid JSON, but not text
        where = broken[0] or "body"
        raise _bad(
            f"{where}: a lone surrogate \\u{ord(broken[1]):04x} (half of a UTF-16 character "
            "pair) is not text: send the whole pair, or remove it",
            broken[0] or None,
        )
    check_keys(body)
    model = body.get("model")
    if model is None:
        raise _bad("you must provide a model parameter", "model", "missing_required_parameter")
    if not isinstance(model, str):
        raise _bad("model: must be a string", "model")
    return model


def parse_chat_request(body: Any) -> ChatRequest:
    """Check a chat completions body the way OpenAI does; :class:`ApiError` (400) names the
    first bad parameter.

    >>> parse_chat_request({"model": "m", "messages": [{"role": "user", "content": "hi"}],
    ...                     "max_tokens": 5}).params.max_tokens
    5
    >>> parse_chat_request({"model": "m", "messages": [], "n": 1}).params
    Traceback (most recent call last):
    ftsdk.serving.openai_api.ApiError: messages: must be a non-empty array of messages
    """
    model = request_model(body, _check_keys)
    messages = _messages(body.get("messages"))
    n = body.get("n")
    if n is not None and n != 1:
        raise _bad(f"n: ftsdk serve returns one choice, so n must be 1 (got {n!r})", "n")
    stream, include_usage = _streaming(body)
    return ChatRequest(
        model=model,
        messages=messages,
        params=_params(body),
        stream=stream,
        include_usage=include_usage,
    )


_STATUSES: tuple[tuple[type[FtsdkError], int, str, str | None], ...] = (
    (InvalidRequest, 400, "invalid_request_error", None),
    (UnsupportedOperation, 400, "invalid_request_error", None),
    (NotFound, 404, "invalid_request_error", None),
    (Conflict, 409, "invalid_request_error", None),
    (RateLimited, 429, "requests", "rate_limit_exceeded"),
    (Timeout, 504, "server_error", "timeout"),
    (ProviderUnavailable, 503, "server_error", None),
)
"""How errors of the model's provider answer: status, OpenAI error type, code."""


def _from_ftsdk(err: FtsdkError) -> ApiError:
    """The answer for an error of the model's provider."""
    for cls, status, type_, code in _STATUSES:
        if isinstance(err, cls):
            retry_after = getattr(err, "retry_after", None)
            return ApiError(
                status,
                str(err),
                param=getattr(err, "field", None),
                code=code or err.code,
                type_=type_,
                headers={} if retry_after is None else {"retry-after": f"{retry_after:g}"},
            )
    # Refused credentials, a configuration problem: the server's, not the caller's.
    return ApiError(
        502, f"the model's provider refused: {err}", code=err.code, type_="server_error"
    )


def word_pieces(text: str) -> list[str]:
    """``text`` in word-sized pieces that join back to exactly ``text`` (how a whole
    answer is sent as a stream, here and by the emulator).

    >>> word_pieces(" two  words ")
    [' ', 'two  ', 'words ']
    """
    return re.findall(r"\S+\s*|\s+", text)


def _finish(answer: ChatResponse) -> str:
    return answer.finish_reason if answer.finish_reason in FINISH_REASONS else "stop"


def _usage(answer: ChatResponse) -> dict[str, int]:
    return {
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
        "total_tokens": answer.usage.total_tokens,
    }


def completion_body(answer: ChatResponse, *, model: str, id: str, created: int) -> dict[str, Any]:
    """A ``chat.completion`` object for ``answer``."""
    return {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.content, "refusal": None},
                "logprobs": None,
                "finish_reason": _finish(answer),
            }
        ],
        "usage": _usage(answer),
    }


@dataclass(frozen=True)
class _Chunks:
    """``chat.completion.chunk`` objects of one streamed answer."""

    model: str
    id: str
    created: int
    include_usage: bool

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self.include_usage:
            body["usage"] = None
        return body

    def start(self) -> dict[str, Any]:
        return self.chunk({"role": "assistant", "content": "", "refusal": None})

    def text(self, piece: str) -> dict[str, Any]:
        return self.chunk({"content": piece})

    def end(self, answer: ChatResponse) -> Iterator[dict[str, Any]]:
        """The finish reason, then the usage when asked (``stream_options.include_usage``)."""
        yield self.chunk({}, _finish(answer))
        if self.include_usage:
            yield self.chunk({}) | {"choices": [], "usage": _usage(answer)}


def _event(body: Mapping[str, Any]) -> bytes:
    return f"data: {json.dumps(body)}\n\n".encode()


class _RequestLog:
    """One log line per request: method, path, status and seconds to the answer, written
    before the answer leaves (never a header: no key can reach the log)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                log.info(
                    "%s %s %d %.2fs",
                    scope["method"],
                    # decoded from the URL: control characters would forge log lines
                    scope["path"].encode("unicode_escape").decode("ascii"),
                    message["status"],
                    time.monotonic() - started,
                )
            await send(message)

        await self.app(scope, receive, sending)


class OpenAICompatibleAPI:
    """The ASGI app serving ``model`` as ``name`` (see the module's docstring), with
    ``GET /health`` for readiness probes.

    :param aliases: other ids clients may pass as ``model`` for it.
    :param api_key: the key clients must send as ``Authorization: Bearer KEY``; ``None``
        lets every request in.
    :param concurrency: chat calls run at once; more wait their turn (one suits a local
        model: a GPU or CPU model cannot run two ``generate`` calls safely).
    """

    def __init__(
        self,
        model: Model,
        *,
        name: str,
        aliases: Iterable[str] = (),
        api_key: SecretStr | None = None,
        concurrency: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.model = model
        self.name = name
        self.accepted = frozenset({name, *aliases})
        self._api_key = api_key
        self._slots = asyncio.Semaphore(concurrency)
        self.created = int(time.time())
        self._live: set[_Generation] = set()
        self._live_lock = threading.Lock()
        self._closing = False

    def __repr__(self) -> str:
        return f"<OpenAICompatibleAPI {self.name!r} for {self.model!r}>"

    def app(self) -> ASGIApp:
        """The ASGI application."""
        from ftsdk.serving.responses_api import responses_endpoint

        starlette = Starlette(
            routes=[
                Route("/v1/models", self.list_models, methods=["GET"]),
                Route("/v1/models/{model:path}", self.get_model, methods=["GET"]),
                Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
                Route("/v1/responses", responses_endpoint(self), methods=["POST"]),
                Route("/health", self.health, methods=["GET"]),
            ],
            exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        )
        return _RequestLog(starlette)

    # -- checks ------------------------------------------------------------------------
    def _authorize(self, request: Request) -> None:
        if self._api_key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ApiError(
                401,
                "You didn't provide an API key: send it as 'Authorization: Bearer KEY'.",
                code="invalid_api_key",
            )
        expected = self._api_key.get_secret_value().encode()
        if not hmac.compare_digest(given.strip().encode(), expected):
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")

    def _check_model(self, model: str) -> None:
        if model not in self.accepted:
            raise ApiError(
                404,
                f"The model '{model}' does not exist or you do not have access to it. "
                f"This server serves '{self.name}'.",
                param="model",
                code="model_not_found",
            )

    def _model_object(self) -> dict[str, Any]:
        return {
            "id": self.name,
            "object": "model",
            "created": self.created,
            "owned_by": f"ftsdk-{self.model.provider}",
        }

    # -- routes ------------------------------------------------------------------------
    async def list_models(self, request: Request) -> Response:
        """``GET /v1/models``: the served model."""
        self._authorize(request)
        return _json({"object": "list", "data": [self._model_object()]})

    async def health(self, request: Request) -> Response:
        """``GET /health``: 200 while serving (no key asked: for load balancers and
        readiness probes; it says nothing a client could misuse)."""
        status = "stopping" if self._closing else "ok"
        return _json({"status": status, "model": self.name}, 503 if self._closing else 200)

    async def get_model(self, request: Request) -> Response:
        """``GET /v1/models/{id}``."""
        self._authorize(request)
        self._check_model(request.path_params["model"])
        return _json(self._model_object())

    async def chat_completions(self, request: Request) -> Response:
        """``POST /v1/chat/completions``."""
        self._authorize(request)
        try:
            body = json.loads(await _read_body(request))
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            raise _bad(
                "We could not parse the JSON body of your request: send valid JSON."
            ) from None
        chat = parse_chat_request(body)
        self._check_model(chat.model)
        if chat.stream:
            return await self._stream(request, chat)
        async with self._slots:
            if await request.is_disconnected():
                # The client gave up while waiting its turn (and may retry): no answer.
                return Response(status_code=499)
            try:
                answer = await self._whole_answer(request, chat)
            except _Stopped:  # the client left (nobody reads it), or the server stops
                return Response(status_code=499 if not self._closing else 503)
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        return _json(completion_body(answer, model=self.name, id=ident, created=created))

    async def _whole_answer(self, request: Request, chat: ChatRequest) -> ChatResponse:
        """The whole answer, generated piece by piece so that it stops at the next piece
        when the client goes away: a long answer nobody reads must not hold the slot."""
        generation = await run_in_threadpool(self._open, chat)  # errors: JSON

        async def stop_when_gone() -> None:
            await _client_gone(request)
            await run_in_threadpool(generation.stop)

        answers: list[ChatResponse] = []
        failures: list[Exception] = []
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(stop_when_gone)
                try:
                    answers.append(await run_in_threadpool(_answering, generation.rest))
                except Exception as err:  # raised below, not wrapped in an ExceptionGroup
                    failures.append(err)
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):  # a cancelled request still cleans up
                await run_in_threadpool(self._done, generation)
        if failures:
            raise failures[0]
        return answers[0]

    async def _begin(
        self, request: Request, chat: ChatRequest
    ) -> tuple[_Generation, str | None] | Response:
        """A slot of ``concurrency`` and the answer's first piece, awaited before any byte
        is sent so that an early error is a plain JSON answer with its status; or the
        answer for a client that left while waiting (499) or a server that stops (503).
        The slot is the caller's until its stream ends."""
        await self._slots.acquire()
        try:
            if await request.is_disconnected():
                self._slots.release()
                return Response(status_code=499)
            generation = await run_in_threadpool(self._open, chat)  # errors: JSON
            try:
                first = await run_in_threadpool(_answering, generation.next)
            except BaseException:
                await run_in_threadpool(self._done, generation)
                raise
        except _Stopped:
            self._slots.release()
            return Response(status_code=503)
        except BaseException:
            self._slots.release()
            raise
        return generation, first

    async def _stream(self, request: Request, chat: ChatRequest) -> Response:
        """A streamed answer: the provider's pieces as they come, in one slot of
        ``concurrency`` until the stream ends (or the client goes)."""
        begun = await self._begin(request, chat)
        if isinstance(begun, Response):
            return begun
        generation, first = begun
        chunks = _Chunks(self.name, f"chatcmpl-{uuid.uuid4().hex}", int(time.time()),
                         chat.include_usage)  # fmt: skip

        async def events() -> AsyncIterator[bytes]:
            try:
                yield _event(chunks.start())
                async for part in _parts(generation, first):
                    yield _event(chunks.text(part))
                for body in chunks.end(generation.stream.response):
                    yield _event(body)
                yield b"data: [DONE]\n\n"
            except ApiError as err:  # the answer had started: OpenAI's error event ends it
                yield _event(err.body())
            except _Stopped:  # the server stops
                yield _event(_stopping().body())
            finally:  # also when the client went away: the provider stops generating
                await self._end(generation)

        return event_stream(events())

    async def _end(self, generation: _Generation) -> None:
        """Stop the provider (also for a client that went away) and free the slot."""
        try:
            with anyio.CancelScope(shield=True):  # a cancelled request still cleans up
                await run_in_threadpool(self._done, generation)
        finally:
            self._slots.release()

    def _open(self, chat: ChatRequest) -> _Generation:
        """Start answering ``chat`` (refused once the server stops)."""
        with self._live_lock:
            if self._closing:
                raise _stopping()
        generation = _Generation(
            _answering(
                self.model.stream, chat.messages, **chat.params.model_dump(exclude_none=True)
            )
        )
        with self._live_lock:
            self._live.add(generation)
            closing = self._closing
        if closing:  # the server began to stop meanwhile
            self._done(generation)
            raise _stopping()
        return generation

    def _done(self, generation: _Generation) -> None:
        generation.stop()
        with self._live_lock:
            self._live.discard(generation)

    def close(self, timeout: float = 10.0) -> None:
        """Stop every answer being written, each at its next piece, and refuse new ones:
        when this returns no generation runs (the server can exit without killing one),
        unless a provider took more than ``timeout`` seconds over its piece."""
        with self._live_lock:
            self._closing = True
            live = list(self._live)
        deadline = time.monotonic() + timeout
        for generation in live:
            generation.stop(timeout=max(deadline - time.monotonic(), 0.0))


class _Stopped(Exception):  # a signal between threads, not an error
    """Raised to the reader of a generation stopped from another thread."""


def _stopping() -> ApiError:
    return ApiError(503, "The server is shutting down; try again later.", type_="server_error")


class _Generation:
    """One answer being written, read piece by piece under a lock, so that another thread
    can stop it between two pieces (its client left, the server stops)."""

    def __init__(self, stream: ChatStream) -> None:
        self.stream = stream
        self._pieces = iter(stream)
        self._lock = threading.Lock()
        self._stopped = False

    def next(self) -> str | None:
        """The next piece, ``None`` at the end; :class:`_Stopped` once stopped."""
        with self._lock:
            if self._stopped:
                self.stream.close()  # a stop() that could not wait closes it here
                raise _Stopped
            return next(self._pieces, None)

    def rest(self) -> ChatResponse:
        """Read to the end; the whole answer."""
        while self.next() is not None:
            pass
        return self.stream.response

    def stop(self, timeout: float = -1) -> None:
        """Stop it: the provider stops generating (after the piece being written). With a
        ``timeout``, wait at most that long for that piece; the reader then closes it."""
        self._stopped = True  # first: the reader starts no other piece
        if not self._lock.acquire(timeout=timeout):
            return
        try:
            self.stream.close()
        finally:
            self._lock.release()


async def _client_gone(request: Request) -> None:
    """Return once the client has closed its connection (its body was read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _parts(generation: _Generation, first: str | None) -> AsyncIterator[str]:
    """The answer's text as it is sent: the provider's pieces, or (a provider that does
    not stream) its whole answer cut into words."""
    streamed = generation.stream.streamed
    piece = first
    while piece is not None:
        for part in [piece] if streamed else word_pieces(piece):
            yield part
        piece = await run_in_threadpool(_answering, generation.next)


def event_stream(events: AsyncIterator[bytes]) -> StreamingResponse:
    """Server-sent ``events`` as the answer."""
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-request-id": _request_id()},
    )


def _answering(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` with ftsdk's errors as OpenAI's (any other: a logged 500)."""
    try:
        return fn(*args, **kwargs)
    except (_Stopped, ApiError):
        raise
    except FtsdkError as err:
        raise _from_ftsdk(err) from err
    except Exception as err:
        log.exception("the model failed to answer")
        raise ApiError(
            500,
            f"The model failed to answer ({type(err).__name__}); see the server's log.",
            type_="server_error",
        ) from err


def _request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse(body, status, headers={"x-request-id": _request_id(), **(headers or {})})


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _json(exc.body(), exc.status, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = (
        f"Invalid URL ({request.method} {request.url.path})"
        if exc.status_code == 404
        else f"{request.method} is not allowed on {request.url.path}"
    )
    return _json(ApiError(exc.status_code, message).body(), exc.status_code, exc.headers)
