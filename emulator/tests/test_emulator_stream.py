"""Streamed chat answers (``"stream": true``): server-sent ``chat.completion.chunk`` events
as OpenAI writes them, checked against its published API description; the stream cut by a
``mid_stream`` fault."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from ftsdk_emulator import Emulator
from ftsdk_emulator.state import Deployment
from tests.conftest import openai_schema_errors

BASE = "gpt-4o-mini-2024-07-18"
QUESTION = [{"role": "user", "content": "What is a fine-tuned model?"}]


@pytest.fixture(scope="module")
def chunk_errors() -> Callable[[Any], list[str]]:
    """What is wrong with a chunk according to the ``CreateChatCompletionStreamResponse``
    schema of OpenAI's API description (``[]``: nothing)."""
    return openai_schema_errors("CreateChatCompletionStreamResponse")


def sse(emulator: Emulator, path: str, body: dict[str, Any], **headers: str) -> list[Any]:
    """The ``data:`` payloads of a streamed answer, parsed (``[DONE]`` kept as a string)."""
    answer = httpx.post(
        f"{emulator.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {emulator.api_key}", **headers},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = answer.text.split("\n\n")
    assert events[-1] == ""  # every event ends with a blank line
    payloads = [e.removeprefix("data: ") for e in events[:-1]]
    assert all(e.startswith("data: ") for e in events[:-1])
    return [p if p == "[DONE]" else json.loads(p) for p in payloads]


@pytest.mark.parametrize("include_usage", [True, False])
def test_chunks_follow_the_spec_and_add_up_to_the_plain_answer(
    emulator: Emulator,
    openai_client: openai.OpenAI,
    chunk_errors: Callable[[Any], list[str]],
    include_usage: bool,
) -> None:
    plain = openai_client.chat.completions.create(model=BASE, messages=QUESTION, seed=3)  # type: ignore[arg-type]
    body = {"model": BASE, "messages": QUESTION, "seed": 3, "stream": True}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    *chunks, done = sse(emulator, "/v1/chat/completions", body)
    assert done == "[DONE]"
    for chunk in chunks:
        assert chunk_errors(chunk) == []
        assert chunk["object"] == "chat.completion.chunk"
        assert (chunk["model"], chunk["system_fingerprint"]) == (
            plain.model,
            plain.system_fingerprint,
        )
    assert len({c["id"] for c in chunks}) == 1
    assert len({c["created"] for c in chunks}) == 1
    first = chunks[0]["choices"][0]
    assert first["delta"] == {"role": "assistant", "content": "", "refusal": None}
    if include_usage:
        *chunks, last = chunks
        assert last["choices"] == []
        assert last["usage"] == plain.usage.model_dump(exclude_none=True)  # type: ignore[union-attr]
        assert all(c["usage"] is None for c in chunks)
    else:
        assert all("usage" not in c for c in chunks)
    texts = [c["choices"][0]["delta"].get("content") or "" for c in chunks]
    assert len([t for t in texts if t]) > 3  # word by word
    assert "".join(texts) == plain.choices[0].message.content
    finish = [c["choices"][0]["finish_reason"] for c in chunks]
    assert finish == [None] * (len(chunks) - 1) + ["stop"]


def test_the_spec_check_catches_a_wrong_chunk(chunk_errors: Callable[[Any], list[str]]) -> None:
    good = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": BASE,
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
    }
    assert chunk_errors(good) == []
    assert chunk_errors({**good, "object": "chat.completion"})
    assert chunk_errors({**good, "choices": [{"index": 0, "delta": {"content": "hi"}}]})
    assert chunk_errors({**good, "usage": {"prompt_tokens": 1}})


def test_a_cut_answer_is_streamed_to_its_limit(openai_client: openai.OpenAI) -> None:
    plain = openai_client.chat.completions.create(
        model=BASE,
        messages=QUESTION,
        max_completion_tokens=4,  # type: ignore[arg-type]
    )
    stream = openai_client.chat.completions.create(
        model=BASE,
        messages=QUESTION,  # type: ignore[arg-type]
        max_completion_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage == plain.usage


@pytest.mark.parametrize("api_version", ["2024-10-21", "v1"])
def test_azure_deployments_stream_the_same_chunks(
    emulator: Emulator, chunk_errors: Callable[[Any], list[str]], api_version: str
) -> None:
    emulator.store.deployments["chat-1"] = Deployment(
        "chat-1", BASE, {"name": "Standard", "capacity": 1}, created_at=0, ready_at=0
    )
    client: openai.OpenAI = (
        openai.OpenAI(base_url=emulator.azure_v1_base_url, api_key=emulator.api_key)
        if api_version == "v1"
        else openai.AzureOpenAI(
            azure_endpoint=emulator.url, api_key=emulator.api_key, api_version=api_version
        )
    )
    plain = client.chat.completions.create(model="chat-1", messages=QUESTION)  # type: ignore[arg-type]
    with client.chat.completions.with_streaming_response.create(
        model="chat-1",
        messages=QUESTION,  # type: ignore[arg-type]
        stream=True,
        # 2024-10-21's chat defines no stream_options (strict mode refuses them there)
        **({"stream_options": {"include_usage": True}} if api_version == "v1" else {}),  # type: ignore[arg-type]
    ) as answer:
        events = [line for line in answer.iter_lines() if line]
    *chunks, done = [e.removeprefix("data: ") for e in events]
    assert done == "[DONE]"
    filtered, *parsed = [json.loads(c) for c in chunks]
    # Azure's first chunk: its content filter's verdict, no choices, empty ids (not OpenAI's)
    assert filtered["choices"] == []
    assert filtered["prompt_filter_results"][0]["content_filter_results"]["hate"] == {
        "filtered": False,
        "severity": "safe",
    }
    assert all(chunk_errors(c) == [] for c in parsed)
    assert (
        "".join(c["choices"][0]["delta"].get("content") or "" for c in parsed if c["choices"])
        == plain.choices[0].message.content
    )
    if api_version == "v1":
        assert parsed[-1]["usage"] == plain.usage.model_dump(exclude_none=True)  # type: ignore[union-attr]
    else:
        assert not any(c.get("usage") for c in parsed)
    expected = (
        "/openai/v1/chat/completions"
        if api_version == "v1"
        else "/openai/deployments/chat-1/chat/completions"
    )
    assert [r.path for r in emulator.requests] == [expected, expected]


def test_stream_options_need_stream(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="only allowed when 'stream'"):
        openai_client.chat.completions.create(
            model=BASE,
            messages=QUESTION,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )


def test_a_mid_stream_drop_reaches_the_client_after_its_first_events(
    emulator: Emulator, openai_client: openai.OpenAI
) -> None:
    fault = emulator.faults.add("POST /chat/completions", drop="mid_stream", events=3)
    stream = openai_client.chat.completions.create(
        model=BASE,
        messages=QUESTION,  # type: ignore[arg-type]
        stream=True,
    )
    seen: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        seen.extend(c.choices[0].delta.content or "" for c in stream)
    assert len(seen) == 3  # the role, then two words
    assert seen[0] == ""
    assert all(seen[1:])
    assert fault.fired == 1
    (record,) = emulator.requests_to("POST /chat/completions")
    assert (record.status, record.fault, record.finished) == (200, "drop:mid_stream", False)
    # the next answer is whole again
    assert (
        len(
            list(
                openai_client.chat.completions.create(
                    model=BASE,
                    messages=QUESTION,
                    stream=True,  # type: ignore[arg-type]
                )
            )
        )
        > 3
    )
    assert emulator.requests_to("POST /chat/completions")[-1].finished
