"""Data a hostile or unlucky user gives: every case is a problem that says what and where
(file, line, field), never a traceback, a hang, or a line lost without a word. The command
line runs as a user runs it: ``python -m ftsdk`` in a subprocess."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ftsdk.dataset import Dataset
from ftsdk.errors import InvalidDataset, InvalidRequest
from ftsdk.testing.data import date_to_words_examples, write_jsonl

OPENAI = ("openai", "gpt-4o-mini")


def ftsdk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m ftsdk ARGS``; the timeout only guards against a hang (one is a failure)."""
    return subprocess.run(
        [sys.executable, "-m", "ftsdk", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


def chats(n: int) -> list[str]:
    return [json.dumps(row) for row in date_to_words_examples(n)]


def problems(path: Path, target: Any = None) -> list[str]:
    return [str(problem) for problem in Dataset.load(path).validate(target).errors]


# -- numbers Python does not read ---------------------------------------------------------

HUGE = "7" * 5000


def test_an_integer_longer_than_python_reads_is_a_problem_with_its_column(
    tmp_path: Path,
) -> None:
    lines = chats(12)
    lines[3] = '{"messages": ' + HUGE + "}"
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    expected = (
        "train.jsonl:4: not valid JSON: an integer of 5,000 digits at column 14; "
        "at most 4,300 digits are read"
    )
    assert problems(path, OPENAI) == [expected]
    result = ftsdk("data", "check", "train.jsonl", "--provider", "openai", "--model",
                   "gpt-4o-mini", cwd=tmp_path)  # fmt: skip
    no_traceback(result)
    assert result.returncode == 1
    assert expected in result.stdout


def test_an_integer_too_long_in_a_json_array_or_a_csv_column_is_a_problem(
    tmp_path: Path,
) -> None:
    array = tmp_path / "train.json"
    array.write_text('[{"text": "a"},\n {"text": ' + HUGE + "}]")
    assert problems(array) == [
        "train.json:2: not valid JSON: an integer of 5,000 digits at column 11; "
        "at most 4,300 digits are read"
    ]
    table = tmp_path / "train.csv"
    table.write_text('messages\n"[' + HUGE + ']"\n')
    [problem] = Dataset.load(table).validate().errors
    assert (str(problem.origin), problem.field, problem.kind) == (
        "train.csv:2",
        "messages",
        "bad_json",
    )


# -- text that is not text -------------------------------------------------------------

SURROGATE_LINE = (
    '{"messages": [{"role": "user", "content": "convert 2024-03-07 \\ud83d"}, '
    '{"role": "assistant", "content": "March 7, 2024"}]}'
)


@pytest.mark.parametrize("target", ["openai", "trl"])
def test_a_lone_surrogate_is_an_error_for_every_provider(
    target: str, tmp_path: Path, tiny_tokenizer: Path
) -> None:
    """JSON's ``\\ud83d`` alone is half a character: OpenAI's check passed it and the local
    one crashed in the tokenizer; now both name the field."""
    lines = chats(12)
    lines[5] = SURROGATE_LINE
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rules = OPENAI if target == "openai" else ("trl", str(tiny_tokenizer))
    report = Dataset.load(path).validate(rules)
    [problem] = [p for p in report.errors if p.kind == "bad_unicode"]
    assert str(problem).startswith(
        "train.jsonl:6: messages[0].content: a lone surrogate \\ud83d: half of a UTF-16 "
        "character pair, not text"
    )
    records = [json.loads(line) for line in lines]
    [again] = Dataset.from_records(records).validate(rules).errors
    assert (str(again.origin), again.field) == ("<records>[5]", "messages[0].content")


# -- what a chat template cannot render -----------------------------------------------

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
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ]},
        {"role": "assistant", "content": "A cat."},
    ]
}  # fmt: skip


def test_tool_calls_and_images_a_local_template_cannot_render_are_problems(
    tmp_path: Path, concatenating_tokenizer: Path
) -> None:
    path = write_jsonl(tmp_path / "train.jsonl", [*date_to_words_examples(3), TOOL_CALL, IMAGE])
    target = ("trl", str(concatenating_tokenizer))
    report = Dataset.load(path).validate(target)
    found = {(str(p.origin), p.field): p.message for p in report.errors}
    assert set(found) == {
        ("train.jsonl:4", "messages[1].tool_calls"),
        ("train.jsonl:5", "messages[0].content[1]"),
    }
    assert (
        "cannot render this example (tool calls are not supported)"
        in found[("train.jsonl:4", "messages[1].tool_calls")]
    )
    assert "(images are not supported)" in found[("train.jsonl:5", "messages[0].content[1]")]
    assert report.stats is not None
    assert report.stats.count == 3  # the others are counted
    result = ftsdk("data", "check", "train.jsonl", "--provider", "trl", "--model",
                   str(concatenating_tokenizer), cwd=tmp_path)  # fmt: skip
    no_traceback(result)
    assert result.returncode == 1
    assert "unsupported_by_template x2" in result.stdout
    assert "train.jsonl:4: messages[1].tool_calls: the chat template of" in result.stdout


# -- files that are not files ---------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "train.jsonl")  # no writer: opening it to read would block
    [problem] = Dataset.load(tmp_path / "train.jsonl").validate().errors
    assert problem.kind == "unreadable"
    assert problem.message.endswith("it is a FIFO (named pipe), not a regular file")
    result = ftsdk("data", "check", "train.jsonl", cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "train.jsonl: it is a FIFO (named pipe), not a regular file"
    )


@pytest.mark.parametrize(
    ("name", "why", "said", "code"),
    [
        ("missing.jsonl", "no such file", "error: cannot read missing.jsonl: no such file", 1),
        # click refuses it first, as a usage error
        ("adir.jsonl", "it is a directory, not a file", "'adir.jsonl' is a directory", 2),
    ],
)
def test_a_source_that_cannot_be_read_is_an_error_not_one_example(
    tmp_path: Path, name: str, why: str, said: str, code: int
) -> None:
    (tmp_path / "adir.jsonl").mkdir()
    report = Dataset.load(tmp_path / name).validate(OPENAI)
    assert report.examples == 0
    assert [str(p) for p in report.errors] == [f"{name}: cannot read {tmp_path / name}: {why}"]
    result = ftsdk("data", "check", name, cwd=tmp_path)
    assert result.returncode == code
    assert said in result.stderr
    assert "examples" not in result.stdout


def test_training_on_a_directory_says_it_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    settings = ["--set", "api_key=sk-unused", "--set", "base_url=http://127.0.0.1:9/v1"]
    result = ftsdk("train", "-p", "openai", *settings, "--model", "gpt-4o-mini-2024-07-18",
                   "--data", "adir", cwd=tmp_path)  # fmt: skip
    no_traceback(result)
    assert result.returncode == 1
    assert "training_data: 'adir': it is a directory, not a file" in result.stdout + result.stderr


# -- splitting and writing lose nothing ---------------------------------------------


def test_split_refuses_a_file_with_a_broken_line_and_names_it(tmp_path: Path) -> None:
    lines = chats(11)
    lines[4] = lines[4][:40]  # cut short: line 5 is broken
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    result = ftsdk("data", "split", "train.jsonl", "--validation", "1", cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 1
    assert "train.jsonl:5: not valid JSON" in result.stderr
    assert "nothing was written" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.jsonl"]
    train, held_out = Dataset.load(tmp_path / "train.jsonl").split(1)
    for part in (train, held_out):
        with pytest.raises(InvalidDataset, match=r"train\.jsonl:5: not valid JSON"):
            part.write(tmp_path / "part.jsonl")
        assert [p.kind for p in part.validate().errors] == ["bad_json"]
    assert not (tmp_path / "part.jsonl").exists()


def test_convert_refuses_a_file_with_a_broken_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "c"\n')
    result = ftsdk("data", "convert", "pairs.jsonl", "out.jsonl", "--to", "text", cwd=tmp_path)
    assert result.returncode == 1
    assert "pairs.jsonl:2: not valid JSON" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


# -- newcomers' mistakes -------------------------------------------------------------


def test_a_csv_without_a_mapping_is_one_problem_that_says_how_to_map_it(tmp_path: Path) -> None:
    with (tmp_path / "qa.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["question", "answer"])
        writer.writerows([f"q{i}", f"a{i}"] for i in range(60))
    [problem] = Dataset.load(tmp_path / "qa.csv").validate(OPENAI).errors
    assert problem.kind == "unknown_format"
    assert str(problem.origin) == "qa.csv:1"
    assert "--column prompt=question --column completion=answer" in problem.message
    assert "--template" in problem.message
    result = ftsdk("data", "check", "qa.csv", cwd=tmp_path)
    assert result.returncode == 1
    assert "unknown_format x1" in result.stdout
    mapped = ftsdk("data", "check", "qa.csv", "--column", "prompt=question", "--column",
                   "completion=answer", cwd=tmp_path)  # fmt: skip
    assert mapped.returncode == 0, mapped.stdout


def test_a_truncated_line_is_reported_where_it_breaks(tmp_path: Path) -> None:
    lines = chats(3)
    lines[1] = '{"messages": [{"role": "user", "content": "hi"}'
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert problems(path) == [
        "train.jsonl:2: not valid JSON: Expecting ',' delimiter at column 48 "
        "(is the line truncated?)"
    ]


def test_write_of_a_checked_file_still_works(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(4))
    out = Dataset.load(path).write(tmp_path / "copy.jsonl")
    assert out.read_bytes() == path.read_bytes()
    with pytest.raises(InvalidRequest, match="refusing to overwrite"):
        Dataset.load(path).write(path)
