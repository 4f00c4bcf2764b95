from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import ftsdk
from ftsdk.testing.local import child_env, date_files, job_home
from ftsdk_trl import tiny

if TYPE_CHECKING:
    from ftsdk_trl.engines.ray_local import LocalRayHead


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


@pytest.fixture(scope="module")
def ray_head_cluster() -> Iterator[LocalRayHead]:
    """A Ray head on this machine (2 CPUs, dashboard on 127.0.0.1), one per test module,
    killed by PID at its end (:func:`ftsdk_trl.engines.ray_local.local_ray_head`)."""
    from ftsdk_trl.engines.ray_local import local_ray_head

    with local_ray_head(num_cpus=2) as head:
        yield head


@pytest.fixture(scope="module")
def ray_head(ray_head_cluster: LocalRayHead) -> str:
    """The Ray head's dashboard URL: the ray engine's ``address``."""
    return ray_head_cluster.url
