"""``ftsdk emulator`` prints what to export for each provider, and those exports are enough
to go from a shell to an Azure deployment with Entra ID (Resource Manager included)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftsdk.testing.data import date_to_words_examples, write_jsonl

FTSDK = Path(sys.executable).with_name("ftsdk")
BASE = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def emulator() -> Iterator[dict[str, object]]:
    """``ftsdk emulator --json`` in its own process, as a user starts it; what it printed."""
    process = subprocess.Popen(
        [str(FTSDK), "emulator", "--json", "--clock-speed", "5000"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_the_banner_names_what_to_export_for_each_provider() -> None:
    process = subprocess.Popen([str(FTSDK), "emulator"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    banner = [process.stdout.readline() for _ in range(7)]
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    exports = [line for line in banner if line.startswith("export ")]
    assert len(exports) == 3  # OpenAI, Azure with a key, Azure with Entra ID
    assert "OPENAI_API_KEY=" in exports[0]
    assert "AZURE_OPENAI_API_KEY=" in exports[1]
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_MANAGER_ENDPOINT"):
        assert f"{name}=" in exports[2]


def test_azure_deployments_from_a_shell_with_what_it_printed(
    emulator: dict[str, object], tmp_path: Path
) -> None:
    exports = emulator["env"]
    assert isinstance(exports, dict)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
    env = clean | exports["azure_entra"] | {"FTSDK_NO_PROGRESS": "1", "FTSDK_PROVIDER": "azure"}

    def ftsdk(*args: str) -> str:
        done = subprocess.run(
            [str(FTSDK), *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    data = write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(20))
    model = json.loads(ftsdk("train", "--model", BASE, "--data", str(data), "--wait", "--json"))
    assert ftsdk("models", "deploy", model["result_model"], "dates") == "deployed as dates\n"
    assert ftsdk("models", "chat", "dates", "Convert 2024-03-07 to words.").strip()
    assert ftsdk("models", "undeploy", "dates") == "removed deployment dates\n"
