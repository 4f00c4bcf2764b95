"""Every answer OpenAI's published spec allows is read correctly, including the ones the
emulator never gives on its own: those are hand-written (a fault with ``body=``) and reach
the real ``openai`` client over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.errors import FtsdkError, InvalidRequest
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"


def completion(message: dict[str, Any], *, choices: bool = True) -> dict[str, Any]:
    """A ``CreateChatCompletionResponse`` with one choice holding ``message`` (or none)."""
    return {
        "id": "chatcmpl-written",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": BASE,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": message}]
        if choices
        else [],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    }


def test_a_chat_answer_with_no_choices_is_a_clear_error(
    client: ftsdk.Client, emulator: Emulator
) -> None:
    """``choices: []`` is spec-valid (no minItems); a gateway or a content filter sends it.
    Field report: pydantic/pydantic-ai#7909 (bare IndexError on the non-streaming path)."""
    emulator.faults.add("POST /chat/completions", body=completion({}, choices=False))
    with pytest.raises(FtsdkError) as caught:
        client.model(BASE).chat("hello")
    assert "no choices" in str(caught.value)
    assert caught.value.provider == "openai"
    assert not isinstance(caught.value, IndexError)


def test_a_refusal_is_kept(client: ftsdk.Client, emulator: Emulator) -> None:
    """An assistant message may carry ``refusal`` with ``content: null``.
    Field report: openclaw/openclaw#102321 (refusal dropped, the turn resolves to empty)."""
    said = "I can't help with that."
    emulator.faults.add(
        "POST /chat/completions",
        body=completion({"role": "assistant", "content": None, "refusal": said}),
    )
    answer = client.model(BASE).chat("something refused")
    assert answer.refusal == said
    assert answer.content == ""


def sse(*chunks: dict[str, Any]) -> str:
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


def test_a_streamed_refusal_is_kept(client: ftsdk.Client, emulator: Emulator) -> None:
    """Streamed, the refusal comes in ``delta.refusal`` pieces.
    Field report: openclaw/openclaw#102321 (the streaming assembler never read it)."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-written",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": BASE,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    body = sse(
        chunk({"role": "assistant", "content": None, "refusal": ""}),
        chunk({"refusal": "I can't "}),
        chunk({"refusal": "help with that."}),
        chunk({}, "stop"),
    )
    emulator.faults.add(
        "POST /chat/completions", body=body, headers={"content-type": "text/event-stream"}
    )
    stream = client.model(BASE).stream("something refused")
    assert "".join(stream) == ""
    answer = stream.response
    assert answer.refusal == "I can't help with that."
    assert answer.finish_reason == "stop"


def test_a_warn_event_is_a_warning(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    """``FineTuningJobEvent.level`` is ``info``, ``warn`` or ``error`` in the spec."""
    job = client.train(base_model=BASE, training_data=train_path)
    event = {
        "object": "fine_tuning.job.event",
        "id": "ftevent-written",
        "created_at": 1_700_000_000,
        "level": "warn",
        "message": "Training file has 3 examples over the token limit; they were truncated.",
        "type": "message",
    }
    emulator.faults.add(
        "GET /fine_tuning/jobs/{job_id}/events",
        body={"object": "list", "data": [event], "has_more": False},
    )
    [seen] = job.events()
    assert seen.level == "warning"


def test_a_model_delete_answered_not_deleted_is_an_error(
    client: ftsdk.Client, emulator: Emulator
) -> None:
    """``DeleteModelResponse.deleted`` is a boolean: ``false`` is not a success."""
    model_id = f"ft:{BASE}:emulator-org::written"
    emulator.faults.add(
        "DELETE /models/{model}", body={"id": model_id, "object": "model", "deleted": False}
    )
    with pytest.raises(FtsdkError) as caught:
        client.model(model_id).delete()
    assert "not deleted" in str(caught.value)
    assert model_id in str(caught.value)


@pytest.mark.parametrize("status", [400, 422])
def test_the_services_validation_message_reaches_the_user(
    client: ftsdk.Client, emulator: Emulator, train_path: Path, status: int
) -> None:
    """The error body is the live service's, as quoted in the field report
    thiswillbeyourgithub/openwebui_custom_pipes_filters#3."""
    error = {
        "message": "Invalid 'metadata': too many properties. Expected an object with at "
        "most 16 properties, but got an object with 24 properties instead.",
        "type": "invalid_request_error",
        "param": "metadata",
        "code": "object_above_max_properties",
    }
    emulator.faults.add("POST /fine_tuning/jobs", body={"error": error}, status=status)
    with pytest.raises(InvalidRequest) as caught:
        client.train(base_model=BASE, training_data=train_path)
    err = caught.value
    assert err.field == "metadata"
    assert err.code == "object_above_max_properties"
    assert err.status_code == status
    assert str(error["message"]) in str(err)
    assert "Error code" not in str(err)


def test_a_422_without_a_message_string_still_says_what_was_wrong(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    """A validation layer's 422 may list its problems instead of one ``message``."""
    detail = [{"loc": ["body", "seed"], "msg": "ensure this value is at most 2147483647"}]
    emulator.faults.add("POST /fine_tuning/jobs", body={"detail": detail}, status=422)
    with pytest.raises(InvalidRequest) as caught:
        client.train(base_model=BASE, training_data=train_path)
    assert "body.seed: ensure this value is at most 2147483647" in str(caught.value)
    assert caught.value.field == "seed"
    assert "Error code" not in str(caught.value)
