"""The docs' shell recipes run as written: each command of a ``bash`` block, in order, with
the real ``ftsdk`` program against the emulator; the job and model ids the page makes up
are replaced by those the run printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ftsdk.testing.emulator import Emulator
from tests.test_docs_workflow import write_recipes

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
MADE_UP_JOB = "ftjob-abc123"
MADE_UP_MODEL = "ft:gpt-4o-mini-2024-07-18:org:recipes:abc"


def bash_block(page: Path, heading: str) -> str:
    """The first ``bash`` block after ``heading`` on ``page``."""
    text = page.read_text()
    after = text[text.index(heading) :]
    match = re.search(r"^```bash\n(.*?)^```$", after, re.M | re.S)
    assert match is not None, f"no bash block under {heading!r} in {page.name}"
    return match[1]


def commands(block: str) -> list[str]:
    """The block's commands: continued lines joined, a here-document kept whole."""
    found: list[str] = []
    lines = iter(block.splitlines())
    for line in lines:
        command = line
        while command.endswith("\\"):
            command = command[:-1] + next(lines)
        if "<<'EOF'" in command:
            body = []
            for more in lines:
                body.append(more)
                if more == "EOF":
                    break
            command = "\n".join([command, *body])
        if command.strip() and not command.lstrip().startswith("#"):
            found.append(command)
    return found


def run_block(block: str, folder: Path, env: dict[str, str]) -> list[str]:
    """Run each command of ``block`` in ``folder``; what each printed on stdout."""
    printed: list[str] = []
    ids: dict[str, str] = {}
    for written in commands(block):
        command = written
        for made_up, real in ids.items():
            command = command.replace(made_up, real)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=folder,
            env=env | {"PATH": f"{BIN}{os.pathsep}{env['PATH']}"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        printed.append(done.stdout)
        job = re.search(r"^(ftjob-\S+) .*model=(\S+)", done.stdout, re.M)
        if command.startswith("ftsdk train") and job is not None:
            ids = {MADE_UP_JOB: job[1], MADE_UP_MODEL: job[2]}
    return printed


def test_the_terminal_recipe_of_the_workflow_guide(tmp_path: Path) -> None:
    write_recipes(tmp_path / "recipes.csv")
    block = bash_block(ROOT / "docs" / "guide" / "workflow.md", "## The same from a terminal")
    with Emulator(clock_speed=5000) as emu:
        env = os.environ | {
            "OPENAI_API_KEY": emu.api_key,
            "OPENAI_BASE_URL": emu.openai_base_url,
            "FTSDK_HOME": str(tmp_path / "home"),
            "FTSDK_CONFIG_DIR": str(tmp_path / "config"),
            "FTSDK_NO_PROGRESS": "1",
        }
        printed = run_block(block, tmp_path, env)
        uploaded = sorted(f.filename.split(".")[0] for f in emu.files)
    assert printed[-1].strip() == "0 onions, salt and leek soup"  # the chat, last
    assert uploaded == ["train", "valid"]  # trained on the split, not on all the recipes


def json_block(page: Path, heading: str) -> str:
    """The first ``json`` block after ``heading`` on ``page``."""
    text = page.read_text()
    match = re.search(r"^```json\n(.*?)^```$", text[text.index(heading) :], re.M | re.S)
    assert match is not None
    return match[1]


def test_the_examples_of_the_cli_guide(tmp_path: Path) -> None:
    from ftsdk.testing.data import date_to_words_examples, write_jsonl

    page = ROOT / "docs" / "guide" / "cli.md"
    (tmp_path / "job.json").write_text(json_block(page, "A job spec file"))
    write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(20))
    write_jsonl(tmp_path / "valid.jsonl", date_to_words_examples(10, seed=1))
    block = bash_block(page, "```json")
    serving = [c for c in commands(block) if c.startswith("ftsdk serve")]
    assert len(serving) == 1  # it serves until Ctrl-C: tests/test_serve.py runs serve
    runnable = "\n".join(c for c in commands(block) if c not in serving)
    with Emulator(clock_speed=5000) as emu:
        env = os.environ | {
            "OPENAI_API_KEY": emu.api_key,
            "OPENAI_BASE_URL": emu.openai_base_url,
            "FTSDK_CONFIG_DIR": str(tmp_path / "config"),
            "FTSDK_NO_PROGRESS": "1",
        }
        printed = run_block(runnable, tmp_path, env)
        (job,) = emu.jobs
    assert job.hyperparameters.get("n_epochs") == 3
    assert printed[-1].strip()  # the fine-tuned model answered
    stored = run_block(bash_block(page, "## Stored defaults"), tmp_path, env)
    assert stored[2].splitlines()[:2] == [
        "azure.endpoint = https://my-resource.openai.azure.com",
        "provider = azure",
    ]
