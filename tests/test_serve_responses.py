"""``ftsdk serve`` beyond chat completions (issue 18.9): the Responses API with the real
``openai`` client, ``/health``, and a banner whose settings work as printed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest

import ftsdk
from ftsdk.models import ChatParams, ChatResponse, ModelInfo, Usage
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

KEY = "serve-key-5d1e"
ROWS = date_to_words_examples(20)
QUESTION = ROWS[3]["messages"][:-1]
TRUTH = ROWS[3]["messages"][-1]["content"]


EVENT_SCHEMAS = {
    "created": "ResponseCreatedEvent",
    "in_progress": "ResponseInProgressEvent",
    "output_item.added": "ResponseOutputItemAddedEvent",
    "content_part.added": "ResponseContentPartAddedEvent",
    "output_text.delta": "ResponseTextDeltaEvent",
    "output_text.done": "ResponseTextDoneEvent",
    "content_part.done": "ResponseContentPartDoneEvent",
    "output_item.done": "ResponseOutputItemDoneEvent",
    "completed": "ResponseCompletedEvent",
}
"""The published schema of each event a streamed response sends (one of
``ResponseStreamEvent``'s, named so that a failure says what is wrong)."""


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(clock_speed=500) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def fine_tuned(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ftsdk.Model]:
    folder = tmp_path_factory.mktemp("responses")
    train = write_jsonl(folder / "train.jsonl", ROWS)
    with ftsdk.client(
        "openai", api_key=emu.api_key, base_url=emu.openai_base_url, home=folder / "home"
    ) as client:
        job = client.train(base_model="gpt-4o-mini-2024-07-18", training_data=train, suffix="d")
        model = job.wait(poll_interval=0.02, progress=False).model
        assert model is not None
        yield model


@pytest.fixture(scope="module")
def server(fine_tuned: ftsdk.Model) -> Iterator[ftsdk.ModelServer]:
    with ftsdk.ModelServer(fine_tuned, name="dates", api_key=KEY) as running:
        yield running


@pytest.fixture
def oai(server: ftsdk.ModelServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0) as client:
        yield client


def test_responses_create_answers_as_chat_does(oai: openai.OpenAI, fine_tuned: ftsdk.Model) -> None:
    direct = fine_tuned.chat(QUESTION, max_tokens=20)
    system, user = QUESTION[0]["content"], QUESTION[-1]["content"]
    answer = oai.responses.create(
        model="dates", instructions=system, input=user, max_output_tokens=20
    )
    assert answer.output_text == direct.content == TRUTH
    assert answer.status == "completed"
    assert answer.model == "dates"
    assert answer.usage is not None
    assert answer.usage.output_tokens == direct.usage.completion_tokens
    as_messages = oai.responses.create(model="dates", input=QUESTION)  # type: ignore[arg-type]
    assert as_messages.output_text == TRUTH


def test_responses_stream_joins_to_the_answer(oai: openai.OpenAI) -> None:
    events = list(oai.responses.create(model="dates", input=QUESTION, stream=True))  # type: ignore[arg-type]
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == TRUTH
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.output_text == TRUTH
    # the client's stream helper rebuilds the response from the events, checking each
    with oai.responses.stream(model="dates", input=QUESTION) as helper:  # type: ignore[arg-type]
        assert helper.get_final_response().output_text == TRUTH


def test_a_short_limit_makes_an_incomplete_response(oai: openai.OpenAI) -> None:
    answer = oai.responses.create(model="dates", input=QUESTION, max_output_tokens=1)  # type: ignore[arg-type]
    assert answer.status == "incomplete"
    assert answer.incomplete_details is not None
    assert answer.incomplete_details.reason == "max_output_tokens"


def test_what_responses_cannot_do_is_a_bad_request_naming_it(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.responses.create(model="dates", input="hi", previous_response_id="resp_1")
    assert caught.value.status_code == 400
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["param"] == "previous_response_id"
    assert "not supported by ftsdk serve" in body["message"]
    with pytest.raises(openai.NotFoundError, match="This server serves 'dates'"):
        oai.responses.create(model="gpt-4o", input="hi")


def test_responses_follow_openais_published_schemas(server: ftsdk.ModelServer) -> None:
    from tests.conftest import openai_schema_errors

    request_errors = openai_schema_errors("CreateResponse")
    answer_errors = openai_schema_errors("Response")
    event_errors = {
        f"response.{kind}": openai_schema_errors(name) for kind, name in EVENT_SCHEMAS.items()
    }
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    body = {"model": "dates", "input": QUESTION, "max_output_tokens": 30, "store": False}
    assert request_errors(body) == []

    def post(payload: dict[str, Any]) -> str:
        request = urllib.request.Request(
            f"{server.base_url}/responses", json.dumps(payload).encode(), headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.read().decode())

    assert answer_errors(json.loads(post(body))) == []
    stream = post(body | {"stream": True})
    events = [e for e in stream.split("\n\n") if e]
    for event in events:
        kind, data = event.split("\n", 1)
        parsed = json.loads(data.removeprefix("data: "))
        assert kind == f"event: {parsed['type']}"
        assert event_errors[parsed["type"]](parsed) == [], parsed
    assert [json.loads(e.split("data: ", 1)[1])["type"] for e in events][-1] == (
        "response.completed"
    )
    assert answer_errors({"object": "response"})  # the check can fail


def test_health_answers_without_a_key(server: ftsdk.ModelServer) -> None:
    with urllib.request.urlopen(server.health_url, timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"status": "ok", "model": "dates"}


def test_the_banner_gives_settings_that_work_as_printed(
    emu: Emulator, fine_tuned: ftsdk.Model
) -> None:
    """The real ``ftsdk serve``: its banner's base URL and key are enough for the openai
    client (which refuses to start without a key, even when the server checks none)."""
    env = {k: v for k, v in os.environ.items() if k != "FTSDK_SERVE_API_KEY"}
    command = [sys.executable, "-m", "ftsdk", "serve", fine_tuned.id, "-p", "openai"]
    settings = ["--set", f"base_url={emu.openai_base_url}", "--set", f"api_key={emu.api_key}"]
    process = subprocess.Popen(
        [*command, *settings, "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(banner)
        base_url = re.search(r"export OPENAI_BASE_URL=(\S+)", text)
        api_key = re.search(r"export OPENAI_API_KEY=(\S+)", text)
        assert base_url is not None, text
        assert api_key is not None, text
        assert "/health" in text
        with openai.OpenAI(base_url=base_url[1], api_key=api_key[1], max_retries=0) as client:
            answer = client.responses.create(model=fine_tuned.id, input=QUESTION)  # type: ignore[arg-type]
        assert answer.output_text == TRUTH
    finally:
        process.terminate()
        process.wait(timeout=30)


class Stutter(ftsdk.Provider):
    """Streams the question back a word at a time and fails at the word ``boom``."""

    name = "stutter"
    capabilities = ftsdk.Capabilities(
        operations=frozenset({ftsdk.Operation.CHAT, ftsdk.Operation.STREAM})
    )

    def chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> ChatResponse:
        return ChatResponse(content=str(messages[-1]["content"]), model=model.id)

    def stream_chat(
        self, model: ModelInfo, messages: list[dict[str, Any]], params: ChatParams
    ) -> Iterator[ftsdk.ChatChunk]:
        for i, word in enumerate(str(messages[-1]["content"]).split(" ")):
            if word == "boom":
                raise ftsdk.errors.ProviderUnavailable("the GPU fell over", provider="stutter")
            yield ftsdk.ChatChunk(content=word if i == 0 else f" {word}")
        yield ftsdk.ChatChunk(finish_reason="stop", usage=Usage(completion_tokens=2))


def test_a_failure_mid_stream_ends_it_with_an_error_event() -> None:
    registry = ftsdk.ProviderRegistry()
    registry.register(Stutter, distribution="tests")
    model = ftsdk.client("stutter", registry=registry).model("m")
    with (
        ftsdk.ModelServer(model) as server,
        openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0) as oai,
    ):
        events = list(oai.responses.create(model="m", input="one two boom three", stream=True))
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == "one two"
        assert events[-1].type == "error"
        assert "the GPU fell over" in events[-1].message
        again = oai.responses.create(model="m", input="ok then")
        assert again.output_text == "ok then"
