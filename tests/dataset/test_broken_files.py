"""A corpus of broken files: each gives the right file:line:field problem, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftsdk.cli import main
from ftsdk.dataset import Dataset, Target
from ftsdk.errors import InvalidDataset

WriteFile = Callable[[str, bytes | str], Path]
GoodLines = Callable[[int], list[bytes]]
MINI = ("openai", "gpt-4o-mini-2024-07-18")


def line(obj: object) -> bytes:
    return (json.dumps(obj) + "\n").encode()


def messages(*pairs: tuple[str, str]) -> bytes:
    return line({"messages": [{"role": role, "content": content} for role, content in pairs]})


def texts(path: Path, **options: object) -> list[str]:
    report = Dataset.load(path).validate(MINI, **options)  # type: ignore[arg-type]
    return [str(problem) for problem in report.errors]


def cli(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["data", "check", str(path), "--provider", "openai", "--model", "gpt-4o-mini", *args]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_truncated_json_names_its_line(write_file: WriteFile, good_lines: GoodLines) -> None:
    path = write_file("train.jsonl", b"".join(good_lines(11)) + b'{"messages": [{"role": "us')
    problems = texts(path)
    assert len(problems) == 1
    assert problems[0].startswith("train.jsonl:12: not valid JSON: ")
    assert problems[0].endswith("(is the line truncated?)")
    code, output = cli(path)
    assert code == 1
    assert "train.jsonl:12: not valid JSON" in output


def test_wrong_roles(write_file: WriteFile, good_lines: GoodLines) -> None:
    rows = good_lines(12)
    rows[4] = messages(("user", "hi"), ("bot", "hello"))
    rows[7] = messages(("user", "hi"), ("system", "be brief"), ("assistant", "ok"))
    rows[9] = messages(("assistant", "I speak first"), ("user", "hi"), ("assistant", "ok"))
    path = write_file("train.jsonl", b"".join(rows))
    problems = texts(path)
    assert problems[0].startswith("train.jsonl:5: messages[1].role: unknown role 'bot'")
    assert (
        "train.jsonl:8: messages[1].role: a system message after the conversation started "
        "(put it first)" in problems
    )
    assert (
        "train.jsonl:10: messages[0].role: the conversation must start with a user message, "
        "not assistant" in problems
    )
    assert "train.jsonl:5: messages: no assistant message to learn from" in problems


def test_empty_content(write_file: WriteFile, good_lines: GoodLines) -> None:
    rows = good_lines(12)
    rows[2] = messages(("system", "s"), ("user", "hi"), ("assistant", ""))
    rows[3] = messages(("user", "   "), ("assistant", "ok"))
    path = write_file("train.jsonl", b"".join(rows))
    assert texts(path) == [
        "train.jsonl:3: messages[2].content: empty content",
        "train.jsonl:4: messages[0].content: empty content",
    ]


def test_bad_utf8(write_file: WriteFile, good_lines: GoodLines) -> None:
    rows = good_lines(12)
    rows[6] = b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n'  # latin-1, not UTF-8
    path = write_file("train.jsonl", b"".join(rows))
    assert texts(path) == ["train.jsonl:7: not UTF-8 text: byte 0xe9 at byte 47 of the line"]
    code, output = cli(path, "--json")
    assert code == 1
    report = json.loads(output)
    assert report["error_counts"] == {"bad_utf8": 1}
    assert report["errors"][0]["where"] == "train.jsonl:7"


def test_a_10_mb_line_is_too_many_tokens(write_file: WriteFile, good_lines: GoodLines) -> None:
    rows = good_lines(12)
    huge = " ".join(f"word{i % 5000}" for i in range(1_200_000))  # ~10 MB of text
    rows[3] = messages(("user", "summarize"), ("assistant", huge))
    path = write_file("train.jsonl", b"".join(rows))
    assert path.stat().st_size > 10_000_000
    report = Dataset.load(path).validate(MINI)
    [problem] = report.errors
    assert problem.kind == "too_many_tokens"
    assert str(problem).startswith("train.jsonl:4: ")
    assert "gpt-4o-mini-2024-07-18 trains on at most 65,536 per example" in str(problem)
    assert report.stats.max > 2_000_000


def test_a_line_over_the_reader_limit_is_skipped_not_loaded(
    write_file: WriteFile, good_lines: GoodLines
) -> None:
    rows = good_lines(12)
    rows[3] = messages(("user", "x"), ("assistant", "y" * 3_000_000))
    path = write_file("train.jsonl", b"".join(rows))
    report = Dataset.from_jsonl(path, max_line_bytes=1 << 20).validate(MINI)
    assert [str(p) for p in report.errors] == [
        f"train.jsonl:4: line of {len(rows[3]):,} bytes is longer than 1,048,576; skipped"
    ]
    assert report.stats is not None
    assert report.stats.count == 11  # the lines after it are read with their numbers


def test_csv_missing_column(write_file: WriteFile) -> None:
    path = write_file("data.csv", "question,answer\nwhat is 2+2?,4\n")
    report = Dataset.from_csv(path, columns={"prompt": "question", "completion": "response"})
    assert [str(p) for p in report.validate()] == [
        "data.csv:1: columns.completion: column 'response' is not in the header "
        "(columns: question, answer)"
    ]
    template = {"messages": [{"role": "user", "content": "{question}"},
                             {"role": "assistant", "content": "{reply}"}]}  # fmt: skip
    report = Dataset.from_csv(path, template=template).validate()
    assert [str(p) for p in report] == [
        "data.csv:1: template.messages[1].content: column 'reply' is not in the header "
        "(columns: question, answer)"
    ]


def test_csv_row_problems_name_the_physical_line(write_file: WriteFile) -> None:
    path = write_file(
        "data.csv",
        'question,answer\n"a question\nover two lines",fine\nshort row\nq,\n',
    )
    report = Dataset.from_csv(path, columns={"prompt": "question", "completion": "answer"})
    assert [str(p) for p in report.validate()] == [
        "data.csv:4: the row has 1 fields; the header has 2",
        "data.csv:5: completion: empty content",
    ]


def test_raise_for_errors_carries_every_problem(
    write_file: WriteFile, good_lines: GoodLines
) -> None:
    rows = good_lines(12)
    rows[2] = messages(("user", "hi"), ("assistant", ""))
    path = write_file("train.jsonl", b"".join(rows) + b"[]\n")
    with pytest.raises(InvalidDataset, match=r"2 problem\(s\)") as caught:
        Dataset.load(path).validate(MINI).raise_for_errors()
    assert caught.value.problems == (
        "train.jsonl:3: messages[1].content: empty content",
        "train.jsonl:13: a JSON list where an object was expected",
    )


def test_problems_are_capped_per_kind_but_all_counted(write_file: WriteFile) -> None:
    rows = [messages(("user", "hi"), ("assistant", "")) for _ in range(50)]
    path = write_file("train.jsonl", b"".join(rows))
    report = Dataset.load(path).validate(MINI, max_problems=5, allow_duplicates=True)
    assert report.counts()["empty_content"] == 50
    assert len([p for p in report.errors if p.kind == "empty_content"]) == 5
    code, output = cli(path, "--max-problems", "3", "--allow-duplicates")
    assert code == 1
    assert "empty_content x50" in output
    assert "... and 47 more" in output


def test_dataset_level_rules(write_file: WriteFile, good_lines: GoodLines) -> None:
    path = write_file("train.jsonl", b"".join(good_lines(3)))
    report = Dataset.load(path).validate(MINI)
    assert [str(p) for p in report.errors] == ["3 example(s); openai needs at least 10"]
    path = write_file("train.jsonl", b"".join(good_lines(20)))
    report = Dataset.load(path).validate(MINI)
    assert report.ok
    assert [p.kind for p in report.warnings] == ["few_examples"]
    small = Target.for_model("openai", "gpt-4o-mini", max_file_bytes=100)
    report = Dataset.load(path).validate(small)
    assert [p.kind for p in report.errors] == ["file_too_large"]
    code, _ = cli(path)
    assert code == 0


def test_duplicates_are_warnings_that_point_at_the_first_occurrence(
    write_file: WriteFile, good_lines: GoodLines
) -> None:
    """OpenAI trains on repeated examples (people repeat some on purpose): a warning."""
    rows = good_lines(12)
    rows.append(line({"messages": list(reversed(json.loads(rows[1])["messages"]))[::-1]}))
    path = write_file("train.jsonl", b"".join(rows))
    report = Dataset.load(path).validate(MINI)
    assert report.ok
    repeated = ["train.jsonl:13: the same example as train.jsonl:2"]
    assert [str(p) for p in report.warnings if p.kind == "duplicate"] == repeated
    code, output = cli(path)
    assert code == 0
    assert "duplicate x1" in output


def test_duplicates_are_errors_when_strict(write_file: WriteFile, good_lines: GoodLines) -> None:
    rows = good_lines(12)
    path = write_file("train.jsonl", b"".join([*rows, rows[1]]))
    report = Dataset.load(path).validate(MINI, strict=True)
    assert [str(p) for p in report.errors] == ["train.jsonl:13: the same example as train.jsonl:2"]
    assert Dataset.load(path).validate(MINI, strict=True, allow_duplicates=True).ok
    code, output = cli(path, "--strict")
    assert code == 1
    assert "train.jsonl:13: the same example as train.jsonl:2" in output


def test_format_the_model_does_not_train_on(write_file: WriteFile) -> None:
    rows = [line({"prompt": f"q{i}", "completion": f"a{i}"}) for i in range(12)]
    path = write_file("train.jsonl", b"".join(rows))
    report = Dataset.load(path).validate(MINI)
    assert [str(p) for p in report.errors] == [
        "train.jsonl:1: openai/gpt-4o-mini-2024-07-18 does not train on prompt_completion "
        "examples (it takes: chat, preference)"
    ]
    assert Dataset.load(path).validate(("openai", "babbage-002")).ok


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    report = Dataset.load(tmp_path / "nope.jsonl").validate()
    [problem] = report.errors
    assert problem.kind == "unreadable"
    assert "nope.jsonl" in str(problem)
