"""Every test runs with its own ftsdk home, so nothing lands in ~/.cache/ftsdk."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_ftsdk_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("ftsdk-home")
    monkeypatch.setenv("FTSDK_HOME", str(home))
    return home
