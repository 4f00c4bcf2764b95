"""Data the tiny model's chat template cannot render, or that is not text, is refused by
``train`` with file:line:field before any process starts (it crashed the check, or the run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import InvalidDataset
from ftsdk.testing.data import date_to_words_examples

TOOL_CALL = {
    "messages": [
        {"role": "user", "content": "What is 6 x 7?"},
        {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "mul", "arguments": "[6, 7]"}}
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "assistant", "content": "42"},
    ]
}  # fmt: skip
IMAGE = {
    "messages": [
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
        ]},
        {"role": "assistant", "content": "A cat."},
    ]
}  # fmt: skip


def bad_file(folder: Path) -> Path:
    lines = [json.dumps(row) for row in date_to_words_examples(12)]
    lines[2] = json.dumps(TOOL_CALL)
    lines[4] = json.dumps(IMAGE)
    lines[6] = lines[6].replace("convert", "convert \\ud83d", 1)  # a lone surrogate escape
    lines[8] = '{"text": ' + "1" * 5000 + "}"
    path = folder / "train.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


EXPECTED = [
    "train.jsonl:3: messages[1].tool_calls: the chat template of",
    "train.jsonl:5: messages[0].content[0]: the chat template of",
    "train.jsonl:7: messages[0].content: a lone surrogate \\ud83d",
    "train.jsonl:9: not valid JSON: an integer of 5,000 digits",
]


@pytest.mark.parametrize("provider", ["trl", "autotrain"])
def test_what_a_local_model_cannot_train_on_is_refused_before_training(
    provider: str, tiny_model: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    with ftsdk.client(provider, home=str(home)) as client:
        spec = ftsdk.JobSpec(base_model=str(tiny_model), training_data=bad_file(tmp_path))
        with pytest.raises(InvalidDataset) as caught:
            client.check_data(spec)
        if provider == "trl":  # train checks the same first; no job, no process
            with pytest.raises(InvalidDataset):
                client.train(spec)
            assert not (home / "trl" / "jobs").exists()
    problems = caught.value.problems
    assert len(problems) == len(EXPECTED)
    for problem, start in zip(sorted(problems), EXPECTED, strict=True):
        assert problem.startswith(start), problem
    assert "(tool calls are not supported)" in problems[0] + problems[1]
    assert "(images are not supported)" in problems[0] + problems[1]
