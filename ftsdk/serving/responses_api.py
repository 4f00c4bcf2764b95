"""OpenAI's Responses API (``POST /v1/responses``) in front of the served model's chat.

``client.responses.create(model=..., input=...)`` (and langchain's ``use_responses_api``,
``litellm.responses``) get a ``response`` object, or with ``stream=True`` its server-sent
events (``response.created`` ... ``response.output_text.delta`` ... ``response.completed``),
in the shapes of OpenAI's published API description. ``input`` (text, or messages with text
parts) and ``instructions`` (a system message first) become the chat's messages;
``max_output_tokens``, ``temperature`` and ``top_p`` its settings. Nothing is stored: no
``previous_response_id``, no tools, no reasoning, no images. The answer comes from
:meth:`ftsdk.Model.stream`, in the same slots as chat completions.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ftsdk.models import ChatParams, ChatResponse
from ftsdk.serving.openai_api import (
    ApiError,
    ChatRequest,
    _bad,
    _json,
    _params,
    _parts,
    _read_body,
    _Stopped,
    _stopping,
    event_stream,
    request_model,
)

if TYPE_CHECKING:
    from ftsdk.serving.openai_api import OpenAICompatibleAPI

__all__ = ["ResponsesRequest", "parse_responses_request", "responses_endpoint"]

ROLES = ("system", "developer", "user", "assistant")
TEXT_PARTS = frozenset({"input_text", "output_text"})
ACCEPTED = frozenset(
    {"model", "input", "instructions", "stream", "stream_options"}
    | {"max_output_tokens", "temperature", "top_p"}
)
IGNORED = frozenset(
    {"metadata", "store", "user", "safety_identifier", "service_tier"}
    | {"prompt_cache_key", "prompt_cache_retention", "prompt_cache_options"}
)
"""Accepted and without effect (accounting, caching; nothing is stored here anyway)."""
NEUTRAL: Mapping[str, Any] = {
    "tools": [],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "truncation": "disabled",
    "background": False,
    "include": [],
    "text": {"format": {"type": "text"}},
}
"""Accepted only at the value that changes nothing (some clients always send them)."""
UNSUPPORTED = frozenset(
    {"previous_response_id", "conversation", "reasoning", "prompt", "top_logprobs"}
    | {"max_tool_calls", "context_management", "moderation"}
)


@dataclass(frozen=True)
class ResponsesRequest:
    """A checked ``POST /v1/responses`` body: the chat it asks for, and what the answer
    echoes back."""

    chat: ChatRequest
    instructions: str | None = None
    max_output_tokens: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _content(raw: Any, where: str) -> str:
    """A message's content: a string, or a list of ``input_text`` / ``output_text`` parts."""
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        raise _bad(f"{where}: must be a string or a list of text parts", where)
    texts = []
    for j, part in enumerate(raw):
        kind = part.get("type") if isinstance(part, dict) else type(part).__name__
        if kind not in TEXT_PARTS:
            raise _bad(
                f"{where}[{j}]: only text parts (input_text, output_text) are supported by "
                f"ftsdk serve, not {kind!r}",
                f"{where}[{j}]",
            )
        if not isinstance(part.get("text"), str):
            raise _bad(f"{where}[{j}].text: must be a string", f"{where}[{j}].text")
        texts.append(part["text"])
    return "".join(texts)


def _input(raw: Any) -> list[dict[str, str]]:
    """``input`` as chat messages: a string is one user message."""
    if raw is None:
        raise _bad("Missing required parameter: 'input'.", "input", "missing_required_parameter")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list) or not raw:
        raise _bad("input: must be a string or a non-empty array of messages", "input")
    messages = []
    for i, item in enumerate(raw):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise _bad(f"{where}: must be an object with 'role' and 'content'", where)
        if item.get("type", "message") != "message":
            raise _bad(
                f"{where}.type: {item.get('type')!r} items are not supported by ftsdk serve "
                "(it takes messages: no tool calls, no item references)",
                f"{where}.type",
            )
        role = item.get("role")
        if role not in ROLES:
            raise _bad(
                f"{where}.role: {role!r} is not one of {', '.join(map(repr, ROLES))}",
                f"{where}.role",
            )
        if item.get("content") is None:
            raise _bad(f"{where}.content: missing", f"{where}.content")
        content = _content(item["content"], f"{where}.content")
        messages.append({"role": "system" if role == "developer" else role, "content": content})
    return messages


def _check_keys(body: Mapping[str, Any]) -> None:
    for key, value in body.items():
        if value is None or key in ACCEPTED or key in IGNORED:
            continue
        if key in NEUTRAL:
            if value != NEUTRAL[key] and not (key == "tool_choice" and value == "none"):
                raise _bad(
                    f"{key} is not supported by ftsdk serve (it forwards input, "
                    "instructions, max_output_tokens, temperature and top_p to the model)",
                    key,
                    "unsupported_parameter",
                )
        elif key in UNSUPPORTED:
            raise _bad(f"{key} is not supported by ftsdk serve", key, "unsupported_parameter")
        else:
            raise _bad(f"Unrecognized request argument supplied: {key}", key)


def _settings(body: Mapping[str, Any]) -> ChatParams:
    given = {
        "max_tokens": body.get("max_output_tokens"),
        "temperature": body.get("temperature"),
        "top_p": body.get("top_p"),
    }
    try:
        return _params(given)
    except ApiError as err:  # say it in this API's words
        if err.param == "max_tokens":
            err.param = "max_output_tokens"
            err.message = err.message.replace("'max_tokens'", "'max_output_tokens'")
        raise


def parse_responses_request(body: Any) -> ResponsesRequest:
    """Check a ``/v1/responses`` body; :class:`ApiError` (400) names the first bad parameter.

    >>> parse_responses_request({"model": "m", "input": "hi", "instructions": "Be brief."}
    ...                         ).chat.messages[0]
    {'role': 'system', 'content': 'Be brief.'}
    """
    model = request_model(body, _check_keys)
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise _bad("instructions: must be a string", "instructions")
    messages = _input(body.get("input"))
    if instructions:
        messages.insert(0, {"role": "system", "content": instructions})
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream: must be true or false", "stream")
    metadata = body.get("metadata")
    params = _settings(body)
    return ResponsesRequest(
        chat=ChatRequest(model=model, messages=messages, params=params, stream=bool(stream)),
        instructions=instructions,
        max_output_tokens=params.max_tokens,
        metadata=metadata if isinstance(metadata, dict) else {},
    )


@dataclass
class _Answer:
    """One response being written: its ids, and the ``response`` object at each stage."""

    request: ResponsesRequest
    model: str
    id: str = field(default_factory=lambda: f"resp_{uuid.uuid4().hex}")
    message_id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")
    created_at: int = field(default_factory=lambda: int(time.time()))

    def item(self, text: str | None, status: str) -> dict[str, Any]:
        content = [] if text is None else [_part(text)]
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": content,
        }

    def body(self, answer: ChatResponse | None) -> dict[str, Any]:
        """The ``response`` object: in progress (``answer`` is None), or finished."""
        params = self.request.chat.params
        status, incomplete, output, usage = "in_progress", None, [], None
        if answer is not None:
            cut = answer.finish_reason == "length"
            status = "incomplete" if cut else "completed"
            incomplete = {"reason": "max_output_tokens"} if cut else None
            output = [self.item(answer.content, status)]
            usage = {
                "input_tokens": answer.usage.prompt_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": answer.usage.completion_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": answer.usage.total_tokens,
            }
        body = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": None if answer is None else int(time.time()),
            "error": None,
            "incomplete_details": incomplete,
            "instructions": self.request.instructions,
            "max_output_tokens": self.request.max_output_tokens,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "store": False,
            "temperature": 1.0 if params.temperature is None else params.temperature,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0 if params.top_p is None else params.top_p,
            "truncation": "disabled",
            "metadata": self.request.metadata,
        }
        if usage is not None:  # the published schema has no null usage: left out until known
            body["usage"] = usage
        return body


def _part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


class _Events:
    """Server-sent events of one response, numbered as OpenAI numbers them."""

    def __init__(self) -> None:
        self.number = 0

    def __call__(self, kind: str, **fields: Any) -> bytes:
        body = {"type": kind, **fields, "sequence_number": self.number}
        self.number += 1
        return f"event: {kind}\ndata: {json.dumps(body)}\n\n".encode()


def _opening(answer: _Answer, event: _Events) -> Iterator[bytes]:
    yield event("response.created", response=answer.body(None))
    yield event("response.in_progress", response=answer.body(None))
    yield event("response.output_item.added", output_index=0, item=answer.item(None, "in_progress"))
    where = {"item_id": answer.message_id, "output_index": 0, "content_index": 0}
    yield event("response.content_part.added", **where, part=_part(""))


def _closing(answer: _Answer, event: _Events, whole: ChatResponse) -> Iterator[bytes]:
    finished = answer.body(whole)
    where = {"item_id": answer.message_id, "output_index": 0, "content_index": 0}
    yield event("response.output_text.done", **where, text=whole.content, logprobs=[])
    yield event("response.content_part.done", **where, part=_part(whole.content))
    yield event("response.output_item.done", output_index=0, item=finished["output"][0])
    kind = "response.incomplete" if finished["status"] == "incomplete" else "response.completed"
    yield event(kind, response=finished)


def responses_endpoint(api: OpenAICompatibleAPI) -> Any:
    """The ``POST /v1/responses`` handler for ``api``'s model (its key, name and slots)."""

    async def responses(request: Request) -> Response:
        api._authorize(request)
        try:
            body = json.loads(await _read_body(request))
        except (ValueError, RecursionError):
            raise _bad(
                "We could not parse the JSON body of your request: send valid JSON."
            ) from None
        asked = parse_responses_request(body)
        api._check_model(asked.chat.model)
        answer = _Answer(asked, api.name)
        if asked.chat.stream:
            return await _stream(api, request, asked, answer)
        async with api._slots:
            if await request.is_disconnected():
                return Response(status_code=499)
            try:
                whole = await api._whole_answer(request, asked.chat)
            except _Stopped:
                return Response(status_code=499 if not api._closing else 503)
        return _json(answer.body(whole))

    return responses


async def _stream(
    api: OpenAICompatibleAPI, request: Request, asked: ResponsesRequest, answer: _Answer
) -> Response:
    """The response as events: the first piece is awaited first, so an early error (a
    refused setting) is a plain JSON answer with its status."""
    begun = await api._begin(request, asked.chat)
    if isinstance(begun, Response):
        return begun
    generation, first = begun
    event = _Events()

    async def events() -> AsyncIterator[bytes]:
        where = {"item_id": answer.message_id, "output_index": 0, "content_index": 0}
        try:
            for opening in _opening(answer, event):
                yield opening
            async for part in _parts(generation, first):
                yield event("response.output_text.delta", **where, delta=part, logprobs=[])
            for closing in _closing(answer, event, generation.stream.response):
                yield closing
        except (ApiError, _Stopped) as err:  # the answer had started: an error event ends it
            failed = err if isinstance(err, ApiError) else _stopping()
            yield event("error", code=failed.code, message=failed.message, param=failed.param)
        finally:
            await api._end(generation)

    return event_stream(events())
