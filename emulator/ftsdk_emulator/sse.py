"""Streamed chat answers (``"stream": true``) as OpenAI writes them: server-sent
``chat.completion.chunk`` events, then ``data: [DONE]``.

The chunks are cut from the answer the emulator gives without streaming, so their text joins
to exactly that answer, and their ids, ``created``, ``model``, fingerprint and usage are its.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from ftsdk.serving.openai_api import word_pieces

__all__ = ["chunks", "events"]


SAFE = {"filtered": False, "severity": "safe"}
AZURE_PROMPT_FILTER = {
    "choices": [],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "prompt_filter_results": [
        {
            "prompt_index": 0,
            "content_filter_results": dict.fromkeys(
                ("hate", "self_harm", "sexual", "violence"), SAFE
            ),
        }
    ],
}
"""The chunk Azure OpenAI sends before any other: its content filter's verdict on the
prompt, with no choices and empty ids (clients must take it in their stride)."""


def chunks(
    completion: Mapping[str, Any],
    *,
    include_usage: bool,
    obfuscation: bool,
    prompt_filter: bool = False,
) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a ``chat.completion``: the role, the text in
    pieces, the finish reason, and the usage last when ``include_usage`` (``usage: null`` on
    the others, as OpenAI does). ``prompt_filter``: Azure's content-filter chunk first."""
    if prompt_filter:
        yield dict(AZURE_PROMPT_FILTER)
    choice = completion["choices"][0]
    head = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
        "system_fingerprint": completion["system_fingerprint"],
    }

    def chunk(choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        body = {**head, "choices": choices}
        if include_usage:
            body["usage"] = usage
        if obfuscation:  # random padding against length side channels
            body["obfuscation"] = secrets.token_urlsafe(secrets.randbelow(12) + 1)
        return body

    def delta(fields: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return chunk([{"index": 0, "delta": fields, "logprobs": None, "finish_reason": finish}])

    yield delta({"role": "assistant", "content": "", "refusal": None})
    for piece in word_pieces(choice["message"]["content"] or ""):
        yield delta({"content": piece})
    yield delta({}, choice["finish_reason"])
    if include_usage:
        yield chunk([], completion["usage"])


async def events(bodies: Iterable[dict[str, Any]], *, interval: float) -> AsyncIterator[bytes]:
    """Server-sent events: one ``data:`` line per body, ``interval`` real seconds apart (a
    model writing), then ``data: [DONE]``."""
    for i, body in enumerate(bodies):
        if i and interval:
            await asyncio.sleep(interval)
        yield f"data: {json.dumps(body)}\n\n".encode()
    yield b"data: [DONE]\n\n"
