"""Formats: detected from the keys, checked field by field, converted where they convert."""

from __future__ import annotations

from typing import Any

import pytest

from ftsdk.capabilities import DataFormat
from ftsdk.dataset import Dataset
from ftsdk.dataset.formats import (
    TEXT_SEPARATOR,
    ConversionError,
    check_example,
    convert,
    detect_format,
)


def problems(example: dict[str, Any]) -> list[str]:
    return [str(p) for p in Dataset.from_records([example]).validate().errors]


@pytest.mark.parametrize(
    ("example", "fmt"),
    [
        ({"messages": []}, DataFormat.CHAT),
        ({"prompt": "p", "completion": "c"}, DataFormat.PROMPT_COMPLETION),
        ({"input": {"messages": []}, "preferred_output": []}, DataFormat.PREFERENCE),
        ({"prompt": "p", "chosen": "a", "rejected": "b"}, DataFormat.PREFERENCE),
        ({"text": "t"}, DataFormat.TEXT),
        ({"foo": 1}, None),
    ],
)
def test_detect(example: dict[str, Any], fmt: DataFormat | None) -> None:
    assert detect_format(example) is fmt


def test_tool_calls_are_checked() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    good = {
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "assistant", "content": "It is sunny."},
        ],
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    assert problems(good) == []
    bad = {"messages": [dict(m) for m in good["messages"]]}
    bad["messages"][2]["tool_call_id"] = "c9"
    bad["messages"][1]["tool_calls"] = [{**call, "function": {"name": "f", "arguments": {}}}]
    assert problems(bad) == [
        "<records>[0]: messages[1].tool_calls[0].function.arguments: arguments must be a JSON "
        "string",
        "<records>[0]: messages[2].tool_call_id: tool_call_id 'c9' answers no call of the "
        "assistant message before it (c1)",
    ]
    orphan = {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "y"},
                           {"role": "assistant", "content": "z"}]}  # fmt: skip
    assert problems(orphan) == [
        "<records>[0]: messages[1].role: a tool message must follow an assistant message with "
        "tool_calls"
    ]


def test_weights() -> None:
    base = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 0}]
    assert problems({"messages": base}) == [
        "<records>[0]: messages: every assistant message has weight 0"
    ]
    base[1]["weight"] = 2
    assert problems({"messages": base}) == [
        "<records>[0]: messages[1].weight: weight must be 0 or 1, not 2"
    ]
    base[1]["weight"] = 1
    base[0]["weight"] = 1
    assert problems({"messages": base}) == [
        "<records>[0]: messages[0].weight: weight is only allowed on assistant messages"
    ]


def test_unknown_and_missing_keys() -> None:
    assert problems(
        {
            "messages": [
                {"role": "user", "content": "a", "contnet": "x"},
                {"role": "assistant", "content": "b"},
            ]
        }
    ) == [
        "<records>[0]: messages[0].contnet: unknown key 'contnet' (expected one of: content, "
        "function_call, name, role, tool_call_id, tool_calls, weight)"
    ]
    assert problems({"messages": [{"content": "a"}, {"role": "assistant", "content": "b"}]}) == [
        "<records>[0]: messages[0].role: missing role"
    ]
    assert problems({"prompt": "p"}) == [
        "<records>[0]: completion: missing: a non-empty string is required"
    ]


def test_preference_pairs_both_shapes() -> None:
    openai_pair = {
        "input": {"messages": [{"role": "user", "content": "2+2?"}]},
        "preferred_output": [{"role": "assistant", "content": "4"}],
        "non_preferred_output": [{"role": "assistant", "content": "5"}],
    }
    assert check_example(openai_pair, DataFormat.PREFERENCE) == []
    trl = convert(openai_pair, DataFormat.PREFERENCE, DataFormat.PREFERENCE, preference="trl")
    assert trl == {
        "prompt": [{"role": "user", "content": "2+2?"}],
        "chosen": [{"role": "assistant", "content": "4"}],
        "rejected": [{"role": "assistant", "content": "5"}],
    }
    assert convert(trl, DataFormat.PREFERENCE, DataFormat.PREFERENCE) == openai_pair
    strings = {"prompt": "2+2?", "chosen": "4", "rejected": "5"}
    assert convert(strings, DataFormat.PREFERENCE, DataFormat.PREFERENCE) == openai_pair
    broken = {**openai_pair, "non_preferred_output": [{"role": "user", "content": ""}]}
    assert problems(broken) == [
        "<records>[0]: non_preferred_output[0].content: empty content",
        "<records>[0]: non_preferred_output[0].role: answers must be assistant messages",
    ]


def test_chat_and_prompt_completion_round_trip() -> None:
    pair = {"prompt": "2+2", "completion": "4"}
    chat = convert(pair, DataFormat.PROMPT_COMPLETION, DataFormat.CHAT)
    assert convert(chat, DataFormat.CHAT, DataFormat.PROMPT_COMPLETION) == pair
    with_system = {"messages": [{"role": "system", "content": "s"}, *chat["messages"]]}
    with pytest.raises(ConversionError, match="system messages and multi-turn"):
        convert(with_system, DataFormat.CHAT, DataFormat.PROMPT_COMPLETION)
    assert convert(pair, DataFormat.PROMPT_COMPLETION, DataFormat.TEXT) == {"text": "2+2\n4"}


@pytest.mark.parametrize(
    ("prompt", "completion", "text"),
    [
        ("Translate: cat", "chat", "Translate: cat\nchat"),  # never "catchat"
        ("Q: hi\nA:", " hello", "Q: hi\nA: hello"),  # a space already there: kept as is
        ("Q: hi\n", "hello", "Q: hi\nhello"),
        ("", "hello", "hello"),
    ],
)
def test_prompt_and_completion_become_text_with_a_separator(
    prompt: str, completion: str, text: str
) -> None:
    pair = {"prompt": prompt, "completion": completion}
    assert convert(pair, DataFormat.PROMPT_COMPLETION, DataFormat.TEXT) == {"text": text}
    assert TEXT_SEPARATOR == "\n"
    with pytest.raises(ConversionError, match="text does not convert to chat"):
        convert({"text": "x"}, DataFormat.TEXT, DataFormat.CHAT)


def test_mixed_formats_are_reported() -> None:
    report = Dataset.from_records([{"text": "a"}, {"prompt": "p", "completion": "c"}]).validate()
    assert [str(p) for p in report.errors] == [
        "<records>[1]: a prompt_completion example in a text dataset (from <records>[0])"
    ]
