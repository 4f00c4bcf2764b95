"""The lifecycle from the command line, against the emulator: train, list, show, watch,
events, chat, delete — text and --json, with clear errors and exit codes; and the real
``ftsdk`` program in subprocesses, one starting a job and another attaching to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftsdk.cli import main
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

BASE = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(clock_speed=5000) as emulator:
        monkeypatch.setenv("OPENAI_API_KEY", emulator.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_base_url)
        monkeypatch.setenv("FTSDK_PROVIDER", "openai")
        monkeypatch.setenv("FTSDK_NO_PROGRESS", "1")
        yield emulator


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_train_watch_chat_delete(emu: Emulator, tmp_path: Path) -> None:
    rows = date_to_words_examples(20)
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps({"base_model": BASE, "training_data": str(data), "suffix": "cli"}))
    code, out = run("train", str(spec), "--epochs", "2", "--json")
    assert code == 0, out
    job = json.loads(out)
    assert job["status"] == "validating"
    code, out = run("jobs", "watch", job["id"])
    assert code == 0, out
    assert "succeeded" in out
    code, out = run("jobs", "show", job["id"], "--json")
    shown = json.loads(out)
    assert shown["result_model"].startswith(f"ft:{BASE}:emulator-org:cli:")
    code, out = run("jobs", "list")
    assert job["id"] in out
    code, out = run("models", "list", "--json")
    assert (code, [m["id"] for m in json.loads(out)]) == (0, [shown["result_model"]])
    assert json.loads(out)[0]["job_id"] == job["id"]
    code, out = run("jobs", "events", job["id"])
    assert "Fine-tuning job started" in out
    assert out.index("Created fine-tuning job") < out.index("successfully completed")
    question, truth = (m["content"] for m in rows[1]["messages"][1:])
    code, out = run("models", "chat", shown["result_model"], question)
    assert (code, out.strip()) == (0, truth)
    code, out = run("models", "chat", shown["result_model"], question, "--stream")
    assert (code, out) == (0, truth + "\n")  # the pieces as they came, then a newline
    code, out = run("models", "delete", shown["result_model"], "--yes")
    assert code == 0
    code, out = run("models", "chat", shown["result_model"], question)
    assert code == 1
    assert "error: NotFound" in out


def test_flags_alone_and_errors_are_one_clear_line(emu: Emulator, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(12))
    code, out = run("train", "--model", BASE, "--data", str(data), "--learning-rate", "0.001")
    assert code == 1
    assert "error: InvalidRequest: method.learning_rate: openai does not accept" in out
    code, out = run("train", "--model", BASE, "--data", str(data), "--wait")
    assert code == 0, out
    assert "succeeded" in out
    code, out = run("jobs", "pause", "ftjob-nope")
    assert code == 1
    assert "NotFound" in out
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"messages": [{"role": "user", "content": "x"}]}])
    code, out = run("train", "--model", BASE, "--data", str(bad))
    assert code == 1
    assert "bad.jsonl:1: messages: no assistant message" in out
    assert len(emu.jobs) == 1


def test_provider_settings_from_the_command_line(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL")
    code, out = run("jobs", "list", "--set", f"base_url={emu.openai_base_url}")
    assert (code, out.strip()) == (0, "no jobs")
    code, out = run("jobs", "list", "--set", "nonsense")
    assert code == 2
    assert "use KEY=VALUE" in out


def test_the_real_program_and_a_second_process_watching(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(20))
    ftsdk_program = Path(sys.executable).with_name("ftsdk")
    with Emulator(clock_speed=40) as emulator:
        env = os.environ | {
            "OPENAI_API_KEY": emulator.api_key,
            "OPENAI_BASE_URL": emulator.openai_base_url,
            "FTSDK_PROVIDER": "openai",
            "FTSDK_NO_PROGRESS": "1",
        }

        def ftsdk(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(ftsdk_program), *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        started = ftsdk("train", "--model", BASE, "--data", str(data), "--json")
        assert started.returncode == 0, started.stderr
        job_id = json.loads(started.stdout)["id"]
        watcher = subprocess.Popen(
            [str(ftsdk_program), "jobs", "watch", job_id],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = watcher.communicate(timeout=120)
        assert watcher.returncode == 0, err
        assert "succeeded" in out
        assert "Fine-tuning job started" in out  # events followed as they came
        listed = ftsdk("models", "list")
        assert listed.returncode == 0
        assert f"job={job_id}" in listed.stdout
        missing = ftsdk("jobs", "watch", "ftjob-missing")
        assert missing.returncode == 1
        assert missing.stderr.startswith("error: NotFound")
        assert emulator.api_key not in missing.stderr + out + err
