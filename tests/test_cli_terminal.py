"""The command line on a terminal and in a pipe: a bar without a line per step, headers and
colour for people (``NO_COLOR`` honoured), plain lines for programs; every option described
in ``--help``; a deletion asked for before it is done."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

FTSDK = Path(sys.executable).with_name("ftsdk")
BASE = "gpt-4o-mini-2024-07-18"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(clock_speed=5000) as emulator:
        yield emulator


@pytest.fixture
def env(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FTSDK_NO_PROGRESS")}
    return clean | {
        "OPENAI_API_KEY": emu.api_key,
        "OPENAI_BASE_URL": emu.openai_base_url,
        "FTSDK_PROVIDER": "openai",
        "FTSDK_CONFIG_DIR": str(tmp_path / "config"),
        "COLUMNS": "200",
    }


def on_terminal(env: dict[str, str], *args: str, answer: str = "") -> str:
    """Run ``ftsdk`` with a terminal for its input and output, as a person does; what it
    printed (stdout and stderr together, as on the screen)."""
    main, follower = pty.openpty()
    process = subprocess.Popen(
        [str(FTSDK), *args], env=env, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    if answer:
        os.write(main, answer.encode())
    screen = b""
    while select.select([main], [], [], 120)[0]:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the program ended and closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(main)
    process.wait(timeout=60)
    return screen.decode(errors="replace").replace("\r\n", "\n")


def piped(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FTSDK), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def finished_job(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A job trained to its end on a terminal, and what the terminal showed."""
    data = write_jsonl(tmp_path_factory.mktemp("data") / "t.jsonl", date_to_words_examples(20))
    env = os.environ | {
        "OPENAI_API_KEY": emu.api_key,
        "OPENAI_BASE_URL": emu.openai_base_url,
        "COLUMNS": "200",
    }
    env.pop("FTSDK_NO_PROGRESS", None)
    screen = on_terminal(
        env, "train", "-p", "openai", "--model", BASE, "--data", str(data), "--wait"
    )
    job = next(j for j in emu.jobs if j.training_file)
    return {"screen": screen, "id": job.id, "model": str(job.fine_tuned_model)}


def test_train_wait_on_a_terminal_shows_the_bar_not_a_line_per_step(
    finished_job: dict[str, str],
) -> None:
    screen = finished_job["screen"]
    assert "succeeded" in screen
    assert "Fine-tuning job started" in screen  # messages still come, above the bar
    assert "Step 1/" not in screen


def test_lists_have_a_header_and_colour_on_a_terminal_only(
    env: dict[str, str], finished_job: dict[str, str]
) -> None:
    screen = on_terminal(env, "jobs", "list")
    assert screen.splitlines()[0].startswith("\x1b[1mJOB  STATUS")
    assert "\x1b[32msucceeded" in screen  # green
    plain = on_terminal(env | {"NO_COLOR": "1"}, "jobs", "list")
    assert plain.splitlines()[0].startswith("JOB  STATUS")
    assert "\x1b[" not in plain
    assert piped(env, "jobs", "list").stdout.startswith(finished_job["id"])  # no header
    models = on_terminal(env, "models", "list")
    assert models.splitlines()[0] == "\x1b[1mMODEL  BASE MODEL  JOB\x1b[0m"
    assert piped(env, "models", "list").stdout.startswith(finished_job["model"])


def test_jobs_show_says_how_far_the_job_got(
    env: dict[str, str], finished_job: dict[str, str]
) -> None:
    shown = piped(env, "jobs", "show", finished_job["id"]).stdout
    assert " step " in shown
    steps = shown.split(" step ")[1].split()[0]
    done, total = steps.split("/")
    assert done == total
    assert "  loss " in shown


def test_every_option_is_described_and_provider_is_not_both_required_and_defaulted() -> None:
    from ftsdk.cli import main

    def walk(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
        context = click.Context(group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            assert command is not None
            yield f"{prefix} {name}", command
            if isinstance(command, click.Group):
                yield from walk(command, f"{prefix} {name}")

    for name, command in walk(main, "ftsdk"):
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, (name, param.opts)
    shown = subprocess.run(
        [str(FTSDK), "jobs", "list", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "[required]" not in shown
    assert "default $FTSDK_PROVIDER" in " ".join(shown.split())
    version = subprocess.run([str(FTSDK), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("ftsdk, version ")


def test_models_delete_asks_first(env: dict[str, str], emu: Emulator, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", date_to_words_examples(20))
    started = piped(env, "train", "--model", BASE, "--data", str(data), "--wait", "--json")
    model = json.loads(started.stdout)["result_model"]
    refused = piped(env, "models", "delete", model)
    assert refused.returncode == 2
    assert "cannot be undone: add --yes to confirm" in refused.stderr
    screen = on_terminal(env, "models", "delete", model, answer="n\n")
    assert f"Delete {model} from openai? This cannot be undone [y/N]" in screen
    assert piped(env, "models", "chat", model, "hi").returncode == 0  # still there
    on_terminal(env, "models", "delete", model, answer="y\n")
    assert "NotFound" in piped(env, "models", "chat", model, "hi").stderr
    assert piped(env, "models", "delete", model, "--yes").returncode == 1  # gone already
