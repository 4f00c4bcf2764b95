"""``Model.stream`` on Azure OpenAI: a deployment answers piece by piece, with an API key and
with Microsoft Entra ID, on the dated API and the v1 API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk import Operation
from ftsdk.errors import NotFound, ProviderUnavailable
from ftsdk.testing.data import date_to_words_examples
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"
QUESTION = "What does fine-tuning change in a model?"


def test_a_fine_tuned_deployment_streams_what_chat_answers(
    client: ftsdk.Client, emulator: Emulator, train_path: Path
) -> None:
    assert client.capabilities.supports(Operation.STREAM)
    job = client.train(base_model=BASE, training_data=train_path, suffix="dates")
    job.wait(poll_interval=0.02)
    assert job.model is not None
    deployed = job.model.deploy("dates-stream")
    question, answer = date_to_words_examples(30)[2]["messages"][1:]
    stream = deployed.stream([question])
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces) == answer["content"]
    assert stream.response == deployed.chat([question])
    assert stream.response.usage.total_tokens > 0
    paths = [r.path for r in emulator.requests if r.path.endswith("/chat/completions")]
    assert paths == ["/openai/v1/chat/completions"] * 2  # the v1 API, the default
    deployed.undeploy()
    with pytest.raises(NotFound):  # as chat raises: the deployment is gone
        list(deployed.stream("hello"))


@pytest.mark.parametrize("api_version", ["2024-10-21", "v1"])
def test_a_base_deployment_streams_on_both_apis(
    emulator: Emulator, settings: Any, api_version: str
) -> None:
    emulator.clock.speed = 500
    with ftsdk.client("azure", **settings("api-key", api_version=api_version)) as client:
        deployed = client.model(BASE).deploy("base-stream")
        plain = deployed.chat(QUESTION, max_tokens=6)
        stream = deployed.stream(QUESTION, max_tokens=6)
        assert len(list(stream)) == 6
        assert plain.finish_reason == "length"
        if api_version == "v1":
            assert stream.response == plain
        else:  # 2024-10-21 defines no stream_options: a streamed answer carries no usage
            assert stream.response.content == plain.content
            assert stream.response.finish_reason == plain.finish_reason
            assert stream.response.usage.total_tokens == 0


def test_closing_early_and_a_cut_stream(emulator: Emulator, settings: Any) -> None:
    emulator.clock.speed = 500
    policy = ftsdk.RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
    dated = settings("api-key", api_version="2024-10-21")
    with ftsdk.client("azure", retry=policy, **dated) as client:
        deployed = client.model(BASE).deploy("base-stream")
        emulator.config.stream_interval = 0.05
        with deployed.stream(QUESTION) as stream:
            assert next(iter(stream)) == "As "
        record = emulator.requests[-1]
        deadline = time.monotonic() + 5
        while not record.duration and time.monotonic() < deadline:
            time.sleep(0.01)
        assert record.duration
        assert not record.finished  # the emulator saw the client go
        emulator.config.stream_interval = 0
        # 4 events: Azure's content-filter chunk, the role, then two pieces
        emulator.faults.add("POST /deployments/{d}/chat/completions", drop="mid_stream", events=4)
        seen: list[str] = []
        with pytest.raises(ProviderUnavailable):
            seen.extend(deployed.stream(QUESTION))
        assert seen == ["As ", "a "]
        chats = [r for r in emulator.requests if r.path.endswith("/chat/completions")]
        assert len(chats) == 2  # the cut stream was not retried
