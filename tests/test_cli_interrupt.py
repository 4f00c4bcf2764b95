"""Ctrl-C while ``ftsdk jobs watch`` or ``ftsdk train --wait`` follows a job stops watching,
not the job: it says how to re-attach and exits 130, as an interrupted program does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk.testing.emulator import Emulator

FTSDK = Path(sys.executable).with_name("ftsdk")
BASE = "gpt-4o-mini-2024-07-18"


@pytest.mark.parametrize("how", ["jobs watch", "train --wait"])
def test_ctrl_c_leaves_the_job_running_and_says_how_to_reattach(tmp_path: Path, how: str) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", date_to_words_examples(20))
    with Emulator(clock_speed=1) as emu:  # real time: the job outlives the test
        env = os.environ | {
            "OPENAI_API_KEY": emu.api_key,
            "OPENAI_BASE_URL": emu.openai_base_url,
            "FTSDK_PROVIDER": "openai",
            "FTSDK_NO_PROGRESS": "1",
            "PYTHONUNBUFFERED": "1",  # each event line as it is printed
        }
        train = [str(FTSDK), "train", "--model", BASE, "--data", str(data)]
        if how == "jobs watch":
            started = subprocess.run(
                [*train, "--json"], env=env, capture_output=True, text=True, check=True
            )
            job_id = json.loads(started.stdout)["id"]
            command = [str(FTSDK), "jobs", "watch", job_id]
        else:
            job_id = ""
            command = [*train, "--wait"]
        watcher = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert watcher.stdout is not None
        first = watcher.stdout.readline()  # the first event: it is watching now
        assert "Created fine-tuning job" in first
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=60)
        job_id = job_id or emu.jobs[-1].id
        assert watcher.returncode == 130
        assert "Aborted!" not in err
        assert "Traceback" not in err
        assert f"stopped watching; job {job_id} goes on at openai." in err
        assert f"follow it again: ftsdk jobs watch {job_id} -p openai" in err
        shown = subprocess.run(
            [str(FTSDK), "jobs", "show", job_id, "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(shown.stdout)["status"] not in ("cancelled", "failed")
