"""Fixtures of the AutoTrain tests.

The real jobs need the AutoTrain runtime (autotrain-advanced 0.8.36 in a venv of its own,
~3 GB, ~2 min to build). ``autotrain_python`` provides it once per session:

- ``FTSDK_AUTOTRAIN_PYTHON`` set: that interpreter is used as it is;
- else the runtime is built (or reused: the build is idempotent) under
  ``$FTSDK_AUTOTRAIN_TEST_CACHE`` (default ``~/.cache/ftsdk-tests``), the path CI caches;
- ``FTSDK_AUTOTRAIN_NO_BUILD=1`` and no interpreter: the real-job tests are skipped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ftsdk
from ftsdk.testing.local import child_env, date_files, job_home


@pytest.fixture(scope="session")
def autotrain_python() -> str:
    """An interpreter with AutoTrain: the one named, or the runtime built once."""
    named = os.environ.get("FTSDK_AUTOTRAIN_PYTHON")
    if named:
        return named
    if os.environ.get("FTSDK_AUTOTRAIN_NO_BUILD") == "1":
        pytest.skip(
            "no AutoTrain runtime: FTSDK_AUTOTRAIN_PYTHON is unset and "
            "FTSDK_AUTOTRAIN_NO_BUILD=1 forbids building it (~2 min, ~3 GB)"
        )
    from ftsdk_autotrain.runtime import runtime_for

    cache = Path(os.environ.get("FTSDK_AUTOTRAIN_TEST_CACHE", "~/.cache/ftsdk-tests"))
    return str(runtime_for(cache.expanduser()).ensure())


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama of the TRL tests (built offline in this venv with ftsdk_trl.tiny)."""
    tiny = pytest.importorskip("ftsdk_trl.tiny", reason="the tiny model is built with ftsdk-trl")
    path: Path = tiny.build(tmp_path_factory.mktemp("tiny"), seed=0)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh ftsdk home; every runner started under it is killed at the end."""
    with job_home(tmp_path / "home", "autotrain") as path:
        yield path


@pytest.fixture
def client(home: Path, autotrain_python: str) -> Iterator[ftsdk.Client]:
    with ftsdk.client("autotrain", home=str(home), python=autotrain_python) as c:
        yield c


@pytest.fixture
def offline_client(home: Path) -> Iterator[ftsdk.Client]:
    """A client whose runtime is a stand-in: for the checks made before anything runs."""
    with ftsdk.client("autotrain", home=str(home), python=sys.executable) as c:
        yield c


@pytest.fixture
def dates(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The TRL tests' data: 1,000 training examples on disk, and 30 held-out ones."""
    return date_files(tmp_path)


@pytest.fixture
def subprocess_env(home: Path, autotrain_python: str) -> dict[str, str]:
    """The environment a second process needs to see this test's jobs and code."""
    return child_env(home, FTSDK_AUTOTRAIN_PYTHON=autotrain_python)
