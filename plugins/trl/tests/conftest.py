from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.testing.local import child_env, date_files, job_home
from ftsdk_trl import tiny


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama, built once offline."""
    return tiny.build(tmp_path_factory.mktemp("tiny"), seed=0)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh ftsdk home; every runner started under it is killed at the end."""
    with job_home(tmp_path / "home", "trl") as path:
        yield path


@pytest.fixture
def client(home: Path) -> Iterator[ftsdk.Client]:
    with ftsdk.client("trl", home=str(home), pause_timeout=60.0) as c:
        yield c


@pytest.fixture
def dates(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """1,000 training examples on disk, and 30 held-out ones."""
    return date_files(tmp_path)


@pytest.fixture
def subprocess_env(home: Path) -> dict[str, str]:
    """The environment a second process needs to see this test's jobs and code."""
    return child_env(home)
