"""``ftsdk emulator`` serves until stopped, from one command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import openai


def test_one_command_serves_the_emulator() -> None:
    began = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("ftsdk")),
            "emulator",
            "--port",
            "0",
            "--json",
            "--clock-speed",
            "1000",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        print(f"emulator answered {time.perf_counter() - began:.2f}s after the command started")
        client = openai.OpenAI(
            base_url=info["openai_base_url"], api_key=info["api_key"], max_retries=0
        )
        assert "gpt-4o-mini-2024-07-18" in [m.id for m in client.models.list()]
        azure = openai.AzureOpenAI(
            azure_endpoint=info["azure_endpoint"],
            api_key=info["api_key"],
            api_version="2024-10-21",
            max_retries=0,
        )
        assert azure.files.list().data == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)
