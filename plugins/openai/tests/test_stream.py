"""``Model.stream`` on OpenAI: the real ``openai`` client reading server-sent events from the
emulator over real HTTP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import AuthenticationError, FtsdkError, NotFound, ProviderUnavailable
from ftsdk.testing.data import date_to_words_examples
from ftsdk.testing.emulator import Emulator
from ftsdk.testing.emulator.state import RequestRecord

BASE = "gpt-4o-mini-2024-07-18"
QUESTION = "What does fine-tuning change in a model?"


def chat_requests(emulator: Emulator) -> list[RequestRecord]:
    return emulator.requests_to("POST /chat/completions")


def ended(record: RequestRecord, timeout: float = 5.0) -> RequestRecord:
    """``record`` once the emulator has stopped answering it."""
    deadline = time.monotonic() + timeout
    while not record.duration and time.monotonic() < deadline:
        time.sleep(0.01)
    assert record.duration, "the emulator is still answering"
    return record


def test_a_cut_answer_ends_with_its_reason(client: ftsdk.Client) -> None:
    stream = client.model(BASE).stream(QUESTION, max_tokens=3)
    assert len(list(stream)) == 3
    assert stream.response.finish_reason == "length"
    assert stream.response == client.model(BASE).chat(QUESTION, max_tokens=3)


def test_a_fine_tuned_model_streams_what_it_learned(client: ftsdk.Client, train_path: Path) -> None:
    job = client.train(base_model=BASE, training_data=train_path, suffix="dates")
    job.wait(poll_interval=0.02)
    assert job.model is not None
    question, answer = date_to_words_examples(30)[4]["messages"][1:]
    stream = job.model.stream([question])
    pieces = list(stream)
    assert "".join(pieces) == answer["content"]
    assert len(pieces) > 1
    assert stream.response == job.model.chat([question])
    assert stream.response.model == job.model.id


def test_closing_early_closes_the_connection(client: ftsdk.Client, emulator: Emulator) -> None:
    emulator.config.stream_interval = 0.05  # the whole answer takes about a second
    started = time.monotonic()
    with client.model(BASE).stream(QUESTION) as stream:
        first = next(iter(stream))
    assert first == "As "
    (record,) = chat_requests(emulator)
    assert not ended(record).finished  # the emulator saw the client go
    assert time.monotonic() - started < 0.8
    emulator.config.stream_interval = 0
    assert client.model(BASE).chat("still there?").content  # the server is fine


def test_a_stream_cut_mid_way_raises_after_its_first_pieces(
    client: ftsdk.Client, emulator: Emulator
) -> None:
    emulator.faults.add("POST /chat/completions", drop="mid_stream", events=4)
    seen: list[str] = []
    with pytest.raises(ProviderUnavailable, match="connection to OpenAI failed") as raised:
        seen.extend(client.model(BASE).stream(QUESTION))
    assert seen == ["As ", "a ", "general-purpose "]  # after the role, three pieces came
    assert raised.value.provider == "openai"
    assert len(chat_requests(emulator)) == 1  # not retried: the answer had started
    assert emulator.api_key not in str(raised.value)


def test_a_failure_before_the_first_piece_is_retried(
    client: ftsdk.Client, emulator: Emulator
) -> None:
    emulator.faults.add("POST /chat/completions", status=503)
    # the second attempt's connection drops after the role chunk, before any text
    emulator.faults.add("POST /chat/completions", drop="mid_stream", events=1, calls={2})
    stream = client.model(BASE).stream(QUESTION)
    assert "".join(stream) == client.model(BASE).chat(QUESTION).content
    assert [r.fault for r in chat_requests(emulator)] == ["503", "drop:mid_stream", None, None]


def error_of(call: object) -> FtsdkError:
    try:
        if callable(call):
            call()
    except FtsdkError as err:
        return err
    raise AssertionError("no error")


def test_errors_before_the_stream_are_those_of_chat(
    client: ftsdk.Client, emulator: Emulator
) -> None:
    missing = client.model("ft:gpt-4o-mini-2024-07-18:emulator-org:gone:abc")
    from_chat = error_of(lambda: missing.chat(QUESTION))
    from_stream = error_of(lambda: list(missing.stream(QUESTION)))
    assert isinstance(from_stream, NotFound)
    assert (type(from_stream), str(from_stream), from_stream.code) == (
        type(from_chat),
        str(from_chat),
        from_chat.code,
    )
    with ftsdk.client(
        "openai", api_key="sk-wrong-key-123", base_url=emulator.openai_base_url
    ) as wrong:
        from_chat = error_of(lambda: wrong.model(BASE).chat(QUESTION))
        from_stream = error_of(lambda: list(wrong.model(BASE).stream(QUESTION)))
    assert isinstance(from_stream, AuthenticationError)
    assert (type(from_stream), str(from_stream)) == (type(from_chat), str(from_chat))
    assert "sk-wrong-key-123" not in str(from_stream)


def test_async_streams_natively_on_async_openai(
    client: ftsdk.Client, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AsyncModel.stream`` reads ``AsyncOpenAI``'s stream on the event loop (no worker
    thread), gives the same pieces, and closing early closes the connection."""
    provider = client.provider
    monkeypatch.setattr(type(provider), "stream_chat", None)  # the sync path would fail
    plain = client.model(BASE).chat(QUESTION, max_tokens=50)

    async def read() -> tuple[list[str], ftsdk.ChatResponse, str]:
        aclient = ftsdk.AsyncClient(provider, retry=client.retry)
        async with aclient.model(BASE).stream(QUESTION, max_tokens=50) as stream:
            pieces = [piece async for piece in stream]
        emulator.config.stream_interval = 0.05
        async with aclient.model(BASE).stream(QUESTION) as early:
            first = await anext(early)
        return pieces, stream.response, first

    pieces, answer, first = asyncio.run(read())
    emulator.config.stream_interval = 0
    assert "".join(pieces) == plain.content
    assert len(pieces) > 5
    assert answer == plain
    assert first == "As "
    assert not ended(chat_requests(emulator)[-1]).finished  # closed after its first piece
