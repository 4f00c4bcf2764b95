"""``ftsdk.ModelServer`` / ``ftsdk serve`` put any ftsdk model behind OpenAI's chat API: here
a model fine-tuned on the OpenAI emulator, served in a thread and called with the real
``openai`` client over HTTP (the local TRL model in a real subprocess is tested beside the
TRL plugin)."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from click.testing import CliRunner

import ftsdk
from ftsdk.cli import main
from ftsdk.errors import ConfigurationError, UnsupportedOperation
from ftsdk.models import ChatParams, ChatResponse, ModelInfo, Usage
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

KEY = "serve-key-7f3a9c1e"
ROWS = date_to_words_examples(20)
QUESTION = ROWS[3]["messages"][:-1]
TRUTH = ROWS[3]["messages"][-1]["content"]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(clock_speed=500) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def fine_tuned(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ftsdk.Model]:
    """A model fine-tuned on the emulator's OpenAI, through ftsdk."""
    folder = tmp_path_factory.mktemp("serve")
    train = write_jsonl(folder / "train.jsonl", ROWS)
    with ftsdk.client(
        "openai", api_key=emu.api_key, base_url=emu.openai_base_url, home=folder / "home"
    ) as client:
        job = client.train(base_model="gpt-4o-mini-2024-07-18", training_data=train, suffix="d")
        model = job.wait(poll_interval=0.02, progress=False).model
        assert model is not None
        yield model


@pytest.fixture
def server(fine_tuned: ftsdk.Model) -> Iterator[ftsdk.ModelServer]:
    with ftsdk.ModelServer(fine_tuned, name="dates", api_key=KEY) as running:
        yield running


@pytest.fixture
def oai(server: ftsdk.ModelServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as client:
        yield client


def test_the_openai_client_gets_what_model_chat_gives(
    oai: openai.OpenAI, fine_tuned: ftsdk.Model
) -> None:
    direct = fine_tuned.chat(QUESTION, max_tokens=20)
    answer = oai.chat.completions.create(model="dates", messages=QUESTION, max_tokens=20)
    assert answer.choices[0].message.content == direct.content == TRUTH
    assert answer.model == "dates"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (
        direct.usage.prompt_tokens,
        direct.usage.completion_tokens,
    )
    assert answer.usage.total_tokens == direct.usage.total_tokens
    # The fine-tune's own id is accepted too, and a typed content part list.
    again = oai.chat.completions.create(
        model=fine_tuned.id,
        messages=[
            {"role": "developer", "content": QUESTION[0]["content"]},
            {"role": "user", "content": [{"type": "text", "text": QUESTION[1]["content"]}]},
        ],
    )
    assert again.choices[0].message.content == direct.content


def test_streaming_ends_with_done_and_joins_to_the_answer(
    oai: openai.OpenAI, fine_tuned: ftsdk.Model
) -> None:
    direct = fine_tuned.chat(QUESTION)
    stream = oai.chat.completions.create(
        model="dates",
        messages=QUESTION,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == direct.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == direct.usage.completion_tokens


def test_the_raw_stream_is_server_sent_events_ending_with_done(
    server: ftsdk.ModelServer,
) -> None:
    body = {"model": "dates", "messages": QUESTION, "stream": True}
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = response.read().decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert all(event.startswith("data: {") for event in events[:-2])


def test_models_lists_the_served_name(oai: openai.OpenAI) -> None:
    listed = oai.models.list()
    assert [m.id for m in listed] == ["dates"]
    assert listed.data[0].owned_by == "ftsdk-openai"
    assert oai.models.retrieve("dates").id == "dates"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-5")


@pytest.mark.parametrize(
    ("request_fields", "param", "message"),
    [
        ({"n": 2}, "n", "n must be 1"),
        ({"extra_body": {"frobnicate": 1}}, "frobnicate", "Unrecognized request argument"),
        ({"temperature": 5}, "temperature", "less than or equal to 2"),
        ({"max_tokens": 0}, "max_tokens", "greater than 0"),
        ({"presence_penalty": 0.5}, "presence_penalty", "not supported"),
        ({"response_format": {"type": "json_object"}}, "response_format", "not supported"),
        ({"messages": []}, "messages", "non-empty"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role", "'robot'"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "missing"),
        (
            {"messages": [{"role": "tool", "content": "x", "tool_call_id": "t"}]},
            "messages[0].role",
            "tool calls",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
                ]
            },
            "messages[0].content[0]",
            "only text parts",
        ),
    ],
)
def test_bad_requests_are_openai_bad_request_errors(
    oai: openai.OpenAI, request_fields: dict[str, Any], param: str, message: str
) -> None:
    fields: dict[str, Any] = {"model": "dates", "messages": QUESTION} | request_fields
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(**fields)
    error = caught.value
    assert error.status_code == 400
    assert error.param == param
    assert error.type == "invalid_request_error"
    assert message in error.message


def test_neutral_values_of_unsupported_parameters_are_accepted(oai: openai.OpenAI) -> None:
    answer = oai.chat.completions.create(
        model="dates",
        messages=QUESTION,
        n=1,
        presence_penalty=0,
        frequency_penalty=0,
        user="someone",
        stop="\n",
        seed=3,
    )
    assert answer.choices[0].message.content == TRUTH


@pytest.mark.parametrize(
    "accounting",
    [
        {"safety_identifier": "user-1234"},
        {"prompt_cache_key": "dates"},
        {"prompt_cache_retention": "24h"},
        {"prompt_cache_options": {"ttl": "5m", "mode": "implicit"}},
    ],
)
def test_the_clients_caching_and_safety_ids_are_accepted(
    oai: openai.OpenAI, accounting: dict[str, Any]
) -> None:
    """OpenAI's replacements for ``user`` concern its accounting, as ``user`` does."""
    answer = oai.chat.completions.create(model="dates", messages=QUESTION, **accounting)
    assert answer.choices[0].message.content == TRUTH


@pytest.mark.parametrize(
    "fields", [{"verbosity": "low"}, {"moderation": {"model": "omni-moderation-latest"}}]
)
def test_openai_parameters_that_change_the_answer_are_refused_as_unsupported(
    oai: openai.OpenAI, fields: dict[str, Any]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="dates", messages=QUESTION, **fields)
    assert caught.value.param == next(iter(fields))
    assert caught.value.code == "unsupported_parameter"
    assert "not supported by ftsdk serve" in caught.value.message


def test_a_body_nested_too_deep_is_a_bad_request(server: ftsdk.ModelServer) -> None:
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=b"[" * 100_000,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    error = json.loads(caught.value.read())["error"]
    assert error["type"] == "invalid_request_error"
    assert "JSON body" in error["message"]


def test_a_body_too_large_is_refused_before_it_is_read(
    server: ftsdk.ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ftsdk.serving import openai_api

    monkeypatch.setattr(openai_api, "MAX_BODY_BYTES", 1024)
    big = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 2000}]})
    for chunked in (False, True):  # a declared length, or none (chunked transfer)
        data: Any = iter([big.encode()]) if chunked else big.encode()
        request = urllib.request.Request(
            f"{server.base_url}/chat/completions",
            data=data,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code == 413
        assert json.loads(caught.value.read())["error"]["code"] == "request_too_large"


def test_a_server_runs_once(fine_tuned: ftsdk.Model) -> None:
    server = ftsdk.ModelServer(fine_tuned)
    with server:
        assert server.running
    with pytest.raises(ConfigurationError, match="a server runs once: make a new one"):
        server.start()


def test_an_unknown_model_is_not_found(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert caught.value.code == "model_not_found"
    assert "serves 'dates'" in caught.value.message


def test_the_api_key_is_required(server: ftsdk.ModelServer) -> None:
    with (
        openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0) as wrong,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        wrong.models.list()
    assert caught.value.code == "invalid_api_key"
    assert KEY not in caught.value.message
    with pytest.raises(urllib.error.HTTPError) as no_key:
        urllib.request.urlopen(f"{server.base_url}/models", timeout=10)
    assert no_key.value.code == 401
    assert json.loads(no_key.value.read())["error"]["code"] == "invalid_api_key"
    assert KEY not in repr(server) + repr(server.api)


def test_unknown_urls_answer_in_openai_shape(server: ftsdk.ModelServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server.base_url}/embeddings", timeout=10)
    assert caught.value.code == 404
    assert json.loads(caught.value.read())["error"]["message"] == "Invalid URL (GET /v1/embeddings)"


def test_a_path_cannot_forge_a_line_of_the_request_log(
    server: ftsdk.ModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ftsdk.serving")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{server.base_url}/x%0AGET%20/v1/admin%20200", timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "ftsdk.serving"]
    assert any("/v1/x\\nGET /v1/admin 200 404" in line for line in lines), lines
    assert not any(line.startswith("GET /v1/admin") for line in lines)


def test_provider_errors_keep_their_meaning(
    emu: Emulator, fine_tuned: ftsdk.Model, tmp_path: Path
) -> None:
    once = ftsdk.RetryPolicy(max_attempts=1)
    with (
        ftsdk.client(
            "openai", api_key=emu.api_key, base_url=emu.openai_base_url, retry=once
        ) as client,
        ftsdk.ModelServer(client.model(fine_tuned.id)) as server,
        openai.OpenAI(base_url=server.base_url, api_key="any", max_retries=0) as oai,
    ):
        emu.faults.add("POST /chat/completions", status=429, retry_after=7)
        with pytest.raises(openai.RateLimitError) as limited:
            oai.chat.completions.create(model=fine_tuned.id, messages=QUESTION)
        assert limited.value.response.headers["retry-after"] == "7"
        emu.faults.add("POST /chat/completions", status=401)
        with pytest.raises(openai.APIStatusError) as refused:  # the server's key, not yours
            oai.chat.completions.create(model=fine_tuned.id, messages=QUESTION)
        assert refused.value.status_code == 502
        assert emu.api_key not in refused.value.message


class SlowChat(ftsdk.Provider):
    """Answers after 0.2 s, counting how many answers run at once."""

    name = "slow"
    capabilities = ftsdk.Capabilities(operations=frozenset({ftsdk.Operation.CHAT}))
    running = 0
    most = 0
    lock = threading.Lock()

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        with self.lock:
            SlowChat.running += 1
            SlowChat.most = max(SlowChat.most, SlowChat.running)
        time.sleep(0.2)
        with self.lock:
            SlowChat.running -= 1
        return ChatResponse(content="ok", model=model.id, usage=Usage(completion_tokens=1))


class NoChat(ftsdk.Provider):
    name = "nochat"


def client_for(provider: type[ftsdk.Provider]) -> ftsdk.Client:
    registry = ftsdk.ProviderRegistry()
    registry.register(provider, distribution="tests")
    return ftsdk.client(provider.name, registry=registry)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_chat_calls_are_serialized_unless_told(concurrency: int) -> None:
    client = client_for(SlowChat)
    SlowChat.most = 0
    with (
        ftsdk.ModelServer(client.model("m"), concurrency=concurrency) as server,
        openai.OpenAI(base_url=server.base_url, api_key="any", max_retries=0) as oai,
    ):
        answers: list[str | None] = []

        def ask() -> None:
            reply = oai.chat.completions.create(model="m", messages=QUESTION)
            answers.append(reply.choices[0].message.content)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert answers == ["ok"] * 4
    assert SlowChat.most == (1 if concurrency == 1 else 4)


class Recorded(ftsdk.Provider):
    """Answers after 0.5 s, recording each question it is asked."""

    name = "recorded"
    capabilities = ftsdk.Capabilities(operations=frozenset({ftsdk.Operation.CHAT}))
    asked: list[str] = []

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        Recorded.asked.append(messages[-1]["content"])
        time.sleep(0.5)
        return ChatResponse(content="ok", model=model.id)


def test_a_request_whose_client_gave_up_in_the_queue_does_not_run_the_model() -> None:
    """A local model answers one request at a time: a client that timed out while waiting
    its turn (and may retry) must not cost the model a whole answer nobody reads."""
    Recorded.asked = []
    with ftsdk.ModelServer(client_for(Recorded).model("m")) as server:

        def ask(text: str, timeout: float) -> str:
            with openai.OpenAI(
                base_url=server.base_url, api_key="any", max_retries=0, timeout=timeout
            ) as oai:
                try:
                    oai.chat.completions.create(
                        model="m", messages=[{"role": "user", "content": text}]
                    )
                except openai.APITimeoutError:
                    return "timed out"
                return "answered"

        outcomes: dict[str, str] = {}
        first = threading.Thread(target=lambda: outcomes.update(first=ask("first", 10)))
        first.start()
        deadline = time.monotonic() + 10
        while not Recorded.asked and time.monotonic() < deadline:  # the model is busy
            time.sleep(0.01)
        quitters = [
            threading.Thread(target=lambda i=i: outcomes.update({f"quit{i}": ask(f"quit{i}", 0.1)}))
            for i in range(3)
        ]
        for thread in quitters:
            thread.start()
        for thread in [first, *quitters]:
            thread.join(30)
        last = ask("last", 10)
    assert outcomes == {"first": "answered"} | {f"quit{i}": "timed out" for i in range(3)}
    assert last == "answered"
    assert Recorded.asked == ["first", "last"]


def test_a_model_that_cannot_chat_is_refused_before_serving() -> None:
    with pytest.raises(UnsupportedOperation, match="nochat does not support 'chat'"):
        ftsdk.ModelServer(client_for(NoChat).model("m"))


def test_a_busy_port_is_a_clear_error(server: ftsdk.ModelServer, fine_tuned: ftsdk.Model) -> None:
    with pytest.raises(ConfigurationError, match=rf"cannot listen on 127.0.0.1:{server.port}") as e:
        ftsdk.ModelServer(fine_tuned, port=server.port)
    assert "pick another port (0 picks a free one)" in str(e.value)


@pytest.mark.parametrize("port", [70000, -1])
def test_a_port_out_of_range_is_a_clear_error(fine_tuned: ftsdk.Model, port: int) -> None:
    with pytest.raises(ConfigurationError, match=rf"cannot listen on 127.0.0.1:{port}: .*0-65535"):
        ftsdk.ModelServer(fine_tuned, port=port)
    result = CliRunner().invoke(
        main, ["serve", "m", "-p", "openai", "--set", "api_key=x", "--port", str(port)]
    )
    assert result.exit_code == 2
    assert "--port" in result.output
    assert "0<=x<=65535" in result.output


def test_an_unknown_host_is_not_blamed_on_the_port(fine_tuned: ftsdk.Model) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ftsdk.ModelServer(fine_tuned, host="no-such-host.invalid", port=8123)
    assert str(caught.value).startswith("cannot listen on no-such-host.invalid:8123: ")
    assert "another port" not in str(caught.value)


def test_cli_refuses_a_job_without_a_model_and_needs_one_source(emu: Emulator) -> None:
    settings = ["--set", f"base_url={emu.openai_base_url}", "--set", f"api_key={emu.api_key}"]
    runner = CliRunner()
    both = runner.invoke(main, ["serve", "m", "--job", "j", "-p", "openai", *settings])
    assert both.exit_code == 2
    assert "give MODEL or --job JOB_ID" in both.output
    missing = runner.invoke(main, ["serve", "--job", "ftjob-nope", "-p", "openai", *settings])
    assert missing.exit_code == 1
    assert "NotFound" in missing.output


class Typist(ftsdk.Provider):
    """Streams its answer a word at a time; after the first word it waits for ``go`` (so a
    test sees that pieces leave the server before the answer is done), and it fails at the
    word ``boom``."""

    name = "typist"
    capabilities = ftsdk.Capabilities(
        operations=frozenset({ftsdk.Operation.CHAT, ftsdk.Operation.STREAM})
    )
    go = threading.Event()
    closed: list[int] = []

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        return ChatResponse(content=messages[-1]["content"], model=model.id)

    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ftsdk.ChatChunk]:
        words = str(messages[-1]["content"]).split(" ")
        sent = 0
        try:
            for i, word in enumerate(words):
                if word == "boom":
                    raise ftsdk.errors.ProviderUnavailable("the GPU fell over", provider="typist")
                yield ftsdk.ChatChunk(content=word if i == 0 else f" {word}")
                sent += 1
                if i == 0 and not Typist.go.wait(10):
                    raise AssertionError("the test never let the answer go on")
            yield ftsdk.ChatChunk(finish_reason="stop", usage=Usage(completion_tokens=sent))
        finally:
            Typist.closed.append(sent)


def test_a_streaming_provider_streams_through_the_server() -> None:
    Typist.go.clear()
    Typist.closed = []
    question = [{"role": "user", "content": "one two three"}]
    with (
        ftsdk.ModelServer(client_for(Typist).model("m")) as server,
        openai.OpenAI(base_url=server.base_url, api_key="any", max_retries=0) as oai,
    ):
        stream = oai.chat.completions.create(
            model="m", messages=question, stream=True, stream_options={"include_usage": True}
        )
        pieces = iter(stream)
        assert next(pieces).choices[0].delta.role == "assistant"
        first = next(pieces)  # out while the provider still waits: a real stream
        assert first.choices[0].delta.content == "one"
        assert not Typist.closed
        Typist.go.set()
        rest = list(pieces)
    text = "".join(c.choices[0].delta.content or "" for c in rest if c.choices)
    assert text == " two three"
    assert [c.choices[0].finish_reason for c in rest if c.choices][-1] == "stop"
    assert rest[-1].usage is not None
    assert rest[-1].usage.completion_tokens == 3
    assert Typist.closed == [3]


def test_a_failure_mid_stream_ends_it_with_an_error_event() -> None:
    Typist.go.set()
    Typist.closed = []
    question = [{"role": "user", "content": "one two boom three"}]
    with (
        ftsdk.ModelServer(client_for(Typist).model("m")) as server,
        openai.OpenAI(base_url=server.base_url, api_key="any", max_retries=0) as oai,
    ):
        seen: list[str] = []
        with pytest.raises(openai.APIError, match="the GPU fell over"):
            seen.extend(
                c.choices[0].delta.content or ""
                for c in oai.chat.completions.create(model="m", messages=question, stream=True)
                if c.choices
            )
        assert "".join(seen) == "one two"
        # the server is fine afterwards
        again = oai.chat.completions.create(model="m", messages=[question[0] | {"content": "ok"}])
        assert again.choices[0].message.content == "ok"
    assert Typist.closed[0] == 2


def test_a_client_that_leaves_mid_stream_stops_the_provider() -> None:
    Typist.go.clear()
    Typist.closed = []
    with (
        ftsdk.ModelServer(client_for(Typist).model("m")) as server,
        openai.OpenAI(base_url=server.base_url, api_key="any", max_retries=0) as oai,
    ):
        stream = oai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "one two three"}], stream=True
        )
        pieces = iter(stream)
        next(pieces), next(pieces)  # the role, then "one": the provider now waits
        stream.close()  # the client goes away
        Typist.go.set()
        deadline = time.monotonic() + 10
        while not Typist.closed and time.monotonic() < deadline:
            time.sleep(0.02)
    assert Typist.closed  # closed where it stood, before the end of its answer
    assert Typist.closed[0] < 3


def test_top_p_zero_is_taken_as_openai_takes_it(
    oai: openai.OpenAI, fine_tuned: ftsdk.Model
) -> None:
    answer = oai.chat.completions.create(model="dates", messages=QUESTION, top_p=0)
    assert answer.choices[0].message.content == TRUTH
    assert fine_tuned.chat(QUESTION, top_p=0).content == TRUTH


def test_what_the_server_sends_follows_openais_published_schemas(
    server: ftsdk.ModelServer,
) -> None:
    """The plain answer and every chunk of a streamed one, against ``../shared/specs``."""
    from tests.conftest import openai_schema_errors

    plain_errors = openai_schema_errors("CreateChatCompletionResponse")
    chunk_errors = openai_schema_errors("CreateChatCompletionStreamResponse")
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    body = {"model": "dates", "messages": QUESTION}

    def post(payload: dict[str, Any]) -> str:
        request = urllib.request.Request(
            f"{server.base_url}/chat/completions", json.dumps(payload).encode(), headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.read().decode())

    assert plain_errors(json.loads(post(body))) == []
    events = post(body | {"stream": True, "stream_options": {"include_usage": True}})
    chunks = [e.removeprefix("data: ") for e in events.split("\n\n") if e]
    assert chunks[-1] == "[DONE]"
    for chunk in chunks[:-1]:
        assert chunk_errors(json.loads(chunk)) == [], chunk
    assert plain_errors({"object": "chat.completion"})  # the check can fail


def test_a_seed_beyond_64_bits_is_a_bad_request_naming_it(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="dates", messages=QUESTION, seed=2**70)
    assert caught.value.status_code == 400
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["param"] == "seed"
    assert body["type"] == "invalid_request_error"
    assert "from -9223372036854775808 to 9223372036854775807" in body["message"]
    ok = oai.chat.completions.create(model="dates", messages=QUESTION, seed=2**63 - 1)
    assert ok.choices[0].message.content == TRUTH


def test_a_lone_surrogate_is_a_bad_request_naming_where(server: ftsdk.ModelServer) -> None:
    """JSON's ``\\ud800`` escape alone is valid JSON but not text: a 400, not a 500."""
    body = b'{"model": "dates", "messages": [{"role": "user", "content": "convert \\ud800"}]}'
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=body,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    error = json.loads(caught.value.read())["error"]
    assert error["param"] == "messages[0].content"
    assert "lone surrogate \\ud800" in error["message"]


class Endless(ftsdk.Provider):
    """Writes "word " for ever, a piece at a time, until it is stopped (as a local model asked
    for a million tokens does); "ping" is answered at once."""

    name = "endless"
    capabilities = ftsdk.Capabilities(
        operations=frozenset({ftsdk.Operation.CHAT, ftsdk.Operation.STREAM})
    )
    writing = threading.Event()
    closed = threading.Event()
    release = threading.Event()  # ends chat(), which nothing can stop, at the test's end

    @classmethod
    def reset(cls) -> None:
        cls.writing, cls.closed, cls.release = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        if messages[-1]["content"] == "ping":
            return ChatResponse(content="pong", model=model.id)
        Endless.writing.set()
        Endless.release.wait()
        return ChatResponse(content="word " * 1000, model=model.id)

    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ftsdk.ChatChunk]:
        if messages[-1]["content"] == "ping":
            yield ftsdk.ChatChunk(content="pong", finish_reason="stop")
            return
        try:
            while not Endless.release.is_set():
                Endless.writing.set()
                yield ftsdk.ChatChunk(content="word ")
                Endless.release.wait(0.001)  # a token's time
        finally:
            Endless.closed.set()


def test_a_client_that_leaves_a_long_answer_frees_the_model_for_the_next() -> None:
    """One request for a million tokens, its client gone: the model stops writing and the
    next request is answered (it waited 30 s, unanswered, behind a slot nobody read)."""
    Endless.reset()
    try:
        with ftsdk.ModelServer(client_for(Endless).model("m")) as server:
            connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
            body = {
                "model": "m",
                "messages": [{"role": "user", "content": "write for ever"}],
                "max_completion_tokens": 1_000_000,
            }
            connection.request(
                "POST",
                "/v1/chat/completions",
                json.dumps(body),
                {"Content-Type": "application/json"},
            )
            assert Endless.writing.wait(30)
            connection.close()  # the client leaves
            assert Endless.closed.wait(30), "the model went on writing for nobody"
            with openai.OpenAI(
                base_url=server.base_url, api_key="any", max_retries=0, timeout=30
            ) as oai:
                ping = [{"role": "user", "content": "ping"}]
                reply = oai.chat.completions.create(model="m", messages=ping)
            assert reply.choices[0].message.content == "pong"
    finally:
        Endless.release.set()


@pytest.mark.parametrize("stream", [False, True])
def test_stopping_the_server_stops_the_answers_being_written(stream: bool) -> None:
    """Ctrl-C on ``ftsdk serve``: no generation outlives the server (a model still writing
    in a thread while the process exits can abort it)."""
    Endless.reset()
    outcome: list[str] = []
    try:
        server = ftsdk.ModelServer(client_for(Endless).model("m")).start()
        oai = openai.OpenAI(base_url=server.base_url, api_key="any", max_retries=0, timeout=30)

        def ask() -> None:
            try:
                answer = oai.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "write"}], stream=stream
                )
                if stream:
                    list(answer)  # type: ignore[arg-type]
                outcome.append("answered")
            except openai.APIError as err:
                outcome.append(type(err).__name__)

        asking = threading.Thread(target=ask)
        asking.start()
        assert Endless.writing.wait(30)
        server.stop()
        assert Endless.closed.is_set()  # stopped before stop() returned
        asking.join(30)
        oai.close()
        assert len(outcome) == 1
        assert outcome[0] != "answered"  # the client is told, not left waiting
    finally:
        Endless.release.set()
