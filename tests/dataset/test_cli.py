"""`ftsdk data check|stats|convert|split` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftsdk.cli import main
from ftsdk.testing.data import date_to_words_examples, write_jsonl


@pytest.fixture
def train(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(60))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["data", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_check_clean_file(train: Path) -> None:
    code, output = run("check", str(train), "--provider", "openai", "--model", "gpt-4o-mini")
    assert code == 0
    assert (
        "train.jsonl: 60 examples, format chat, checked for openai/gpt-4o-mini-2024-07-18" in output
    )
    assert "tokens (o200k_base): total" in output
    assert "3 epochs (auto)" in output
    assert "verify before budgeting" in output
    assert output.rstrip().endswith("OK: no errors")


def test_check_json(train: Path) -> None:
    code, output = run(
        "check",
        str(train),
        "--provider",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--json",
        "--epochs",
        "2",
    )
    report = json.loads(output)
    assert code == 0
    assert report["ok"] is True
    assert report["cost"]["epochs"] == 2
    assert report["cost"]["billed_tokens"] == 2 * report["stats"]["total"]


def test_check_without_target_checks_the_format(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    code, output = run("check", str(bad))
    assert code == 1
    assert "bad.jsonl:1: messages: no assistant message to learn from" in output


def test_unknown_model_is_a_usage_error(train: Path) -> None:
    code, output = run("check", str(train), "--provider", "openai", "--model", "gpt-9")
    assert code == 2
    assert "no recorded rules for model 'gpt-9'" in output


def test_stats(train: Path) -> None:
    code, output = run("stats", str(train), "--provider", "openai", "--model", "gpt-4o", "--json")
    assert code == 0
    body = json.loads(output)
    assert body["examples"] == 60
    assert body["cost"]["price_per_million"] == 25.0


def test_convert_and_split(train: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    write_jsonl(pairs, [{"prompt": f"q{i}", "completion": f"a{i}"} for i in range(10)])
    out = tmp_path / "chat.jsonl"
    code, output = run("convert", str(pairs), str(out), "--to", "chat")
    assert code == 0
    assert json.loads(out.read_text().splitlines()[0])["messages"][0] == {
        "role": "user",
        "content": "q0",
    }
    code, output = run(
        "convert", str(train), str(tmp_path / "x.jsonl"), "--to", "prompt_completion"
    )
    assert code == 1
    assert "train.jsonl:1: messages: only a single user turn" in output
    assert not (tmp_path / "x.jsonl").exists()
    code, output = run("split", str(train), "--validation", "0.25", "--seed", "4")
    assert code == 0
    lines = [
        len((tmp_path / f"train.{part}.jsonl").read_text().splitlines())
        for part in ("train", "validation")
    ]
    assert lines == [45, 15]
    code, output = run("split", str(train), "--validation", "0.25", "--seed", "4", "--json")
    written = json.loads(output)
    assert (code, written["train"]["examples"], written["validation"]["examples"]) == (0, 45, 15)
    code, output = run("convert", str(pairs), str(out), "--to", "chat", "--json")
    assert json.loads(output)["files"] == [{"path": str(out), "examples": 10}]


def test_data_appears_in_help() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert "data" in result.output
