"""``Model.stream`` on a local model: the pieces add up to what ``chat`` answers, closing
stops ``generate`` at once, and errors reach the reader as ``chat`` raises them."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.errors import InvalidRequest
from ftsdk_trl import TRLProvider, tiny

MONTHS = " ".join(
    ["January February March April May June July August September October November December"] * 3
)
QUESTION = [{"role": "user", "content": "months"}]


@pytest.fixture(scope="session")
def months_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model, taught to answer "months" with the months three times over."""
    conversation = [*QUESTION, {"role": "assistant", "content": MONTHS}]
    return tiny.teach(tiny_model, tmp_path_factory.mktemp("months"), [conversation])


def generating() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ftsdk-trl-generate"]


@pytest.mark.parametrize(
    ("params", "finish_reason"),
    [
        ({"max_tokens": 200}, "stop"),  # the model ends its turn
        ({"max_tokens": 20}, "length"),
        ({"max_tokens": 200, "stop": ["May"]}, "stop"),  # cut by a stop string
        ({"max_tokens": 200, "stop": ["ber Oct"]}, "stop"),  # one that spans pieces
    ],
)
def test_the_pieces_add_up_to_the_chat_answer(
    client: ftsdk.Client, months_model: Path, params: dict[str, Any], finish_reason: str
) -> None:
    model = client.model(str(months_model))
    chat = model.chat(QUESTION, **params)
    stream = model.stream(QUESTION, **params)
    assert stream.streamed
    pieces = list(stream)
    assert "".join(pieces) == chat.content
    assert len(pieces) > 3
    assert stream.response == chat
    assert chat.finish_reason == finish_reason
    assert not generating()


def test_sampling_with_a_seed_streams_what_chat_samples(
    client: ftsdk.Client, months_model: Path
) -> None:
    model = client.model(str(months_model))
    settings = {"max_tokens": 40, "temperature": 1.5, "seed": 7}
    chat = model.chat("months", **settings)
    stream = model.stream("months", **settings)
    assert "".join(stream) == chat.content
    assert stream.response == chat


def test_the_whole_answer_when_the_model_ends_its_turn(
    client: ftsdk.Client, months_model: Path
) -> None:
    stream = client.model(str(months_model)).stream("months", max_tokens=200)
    assert "".join(stream) == MONTHS
    assert stream.response.finish_reason == "stop"
    assert 0 < stream.response.usage.completion_tokens < 200


def test_cut_by_stop_strings(client: ftsdk.Client, months_model: Path) -> None:
    model = client.model(str(months_model))
    assert "".join(model.stream("months", stop=["May"])) == "January February March April"
    assert "".join(model.stream("months", stop=["ber Oct"])) == MONTHS.split("ber Oct")[0]


def test_closing_after_the_first_piece_stops_generating(
    client: ftsdk.Client, months_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = client.model(str(months_model))
    whole = model.chat("months", max_tokens=200).usage.completion_tokens
    provider = client.provider
    assert isinstance(provider, TRLProvider)
    loaded = provider._load(model.info)

    # Once the reader has its first piece, the generating thread waits before each next
    # token until the stream is stopped: what it writes after the close is then at most a
    # token, whatever the timing.
    stop_events: list[threading.Event] = []
    generate = loaded.model.generate

    def spy(*args: Any, **kwargs: Any) -> Any:
        stop_events.extend(c.event for c in kwargs["stopping_criteria"] if hasattr(c, "event"))
        return generate(*args, **kwargs)

    monkeypatch.setattr(loaded.model, "generate", spy)
    first_seen = threading.Event()
    forwards: list[int] = []

    def each_token(*_: Any) -> None:
        forwards.append(1)
        if first_seen.is_set():
            assert stop_events[0].wait(30)

    hook = loaded.model.register_forward_hook(each_token)
    try:
        stream = model.stream("months", max_tokens=200)
        pieces = iter(stream)
        first = next(pieces)
        first_seen.set()
        at_first = len(forwards)
        stream.close()
    finally:
        hook.remove()
    assert MONTHS.startswith(first)
    assert len(stop_events) == 1
    assert stop_events[0].is_set()
    assert not generating()  # the thread was joined
    assert len(forwards) <= at_first + 2  # stopped within a token of the close
    assert len(forwards) < whole  # not written to the end
    assert list(pieces) == []


def test_a_missing_model_raises_as_chat_does(client: ftsdk.Client, tmp_path: Path) -> None:
    model = client.model(str(tmp_path / "missing"))
    with pytest.raises(InvalidRequest) as from_chat:
        model.chat("months")
    with pytest.raises(InvalidRequest) as from_stream:
        list(model.stream("months"))
    assert str(from_stream.value) == str(from_chat.value)
    assert "missing" in str(from_stream.value)


def test_an_error_while_generating_reaches_the_reader(
    client: ftsdk.Client, months_model: Path, tmp_path: Path
) -> None:
    """Weights gone to NaN (a broken half-precision run, say) cannot be sampled from:
    ``generate`` fails in its thread, and the reader gets the error ``chat`` raises."""
    import torch
    from transformers import AutoModelForCausalLM

    broken = tmp_path / "broken"
    shutil.copytree(months_model, broken)
    weights = AutoModelForCausalLM.from_pretrained(str(broken))
    with torch.no_grad():
        for parameter in weights.parameters():
            parameter.fill_(float("nan"))
    weights.save_pretrained(broken)
    model = client.model(str(broken))
    with pytest.raises(RuntimeError) as from_chat:
        model.chat("months", temperature=1.0)
    with pytest.raises(RuntimeError) as from_stream:
        list(model.stream("months", temperature=1.0))
    assert str(from_stream.value) == str(from_chat.value)
    assert from_stream.value.__traceback__ is not None
    assert not generating()


def test_top_p_zero_keeps_only_the_likeliest_token(
    client: ftsdk.Client, months_model: Path
) -> None:
    """OpenAI's API takes ``top_p: 0``; here, as there, it is greedy decoding."""
    model = client.model(str(months_model))
    greedy = model.chat(QUESTION, max_tokens=30, temperature=0)
    for seed in (1, 2):
        hot = model.chat(QUESTION, max_tokens=30, temperature=2.0, top_p=0, seed=seed)
        assert hot.content == greedy.content
