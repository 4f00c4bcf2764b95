from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.testing.data import date_to_words_examples, write_jsonl
from ftsdk_trl import tiny
from ftsdk_trl.jobdir import JobDir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama, built once offline."""
    return tiny.build(tmp_path_factory.mktemp("tiny"), seed=0)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh ftsdk home; every runner started under it is killed at the end."""
    path = tmp_path / "home"
    yield path
    for folder in (path / "trl" / "jobs").glob("*"):
        proc = JobDir(folder).process()
        if proc is not None:
            try:
                os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
                proc.wait(timeout=10)
            except (ProcessLookupError, OSError):
                pass


@pytest.fixture
def client(home: Path) -> Iterator[ftsdk.Client]:
    with ftsdk.client("trl", home=str(home), pause_timeout=60.0) as c:
        yield c


@pytest.fixture
def dates(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """1,000 training examples on disk, and 30 held-out ones."""
    rows = date_to_words_examples(1030, seed=0)
    return write_jsonl(tmp_path / "train.jsonl", rows[:1000]), rows[1000:]


@pytest.fixture
def subprocess_env(home: Path) -> dict[str, str]:
    """The environment a second process needs to see this test's jobs and code."""
    env = dict(os.environ)
    env["FTSDK_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env
