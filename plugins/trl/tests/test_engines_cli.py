"""``ftsdk providers`` lists the TRL provider's engines, and how to install a missing one,
through the real CLI in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ftsdk.testing.local import child_env
from ftsdk_trl.engines import ENGINES
from ftsdk_trl.engines.skypilot import PYTHON_ENV_VAR, runtime_for

ENGINES_HOME = Path(__file__).resolve().parents[3] / ".cache" / "engines-home"


def _providers(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = child_env(home, **env)
    if PYTHON_ENV_VAR not in env:
        environ.pop(PYTHON_ENV_VAR, None)
    return subprocess.run(
        [sys.executable, "-m", "ftsdk", "providers", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=environ,
    )


def test_providers_shows_engines_and_how_to_install_a_missing_one(tmp_path: Path) -> None:
    # A fresh ftsdk home: no SkyPilot runtime built, none named, none in this venv.
    as_json = json.loads(_providers(tmp_path / "home", "--json").stdout)
    [trl] = [row for row in as_json["providers"] if row["name"] == "trl"]
    assert set(trl["engines"]) == set(ENGINES)
    assert trl["engines"]["local"] == {"installed": True}
    skypilot = trl["engines"]["skypilot"]
    assert skypilot["installed"] is False
    assert "pip install 'ftsdk-trl[skypilot]'" in skypilot["install"]
    assert "python -m ftsdk_trl.engines install skypilot" in skypilot["install"]
    # Providers with one way to run list none.
    assert all(row["engines"] == {} for row in as_json["providers"] if row["name"] != "trl")

    text = _providers(tmp_path / "home").stdout
    block = text[text.index("\ntrl ") :]
    assert "engines: local" in block
    assert "skypilot: not installed: pip install 'ftsdk-trl[skypilot]'" in block


def test_providers_shows_skypilot_installed_once_its_runtime_is_built() -> None:
    # The runtime venv scripts/setup builds (here if it did not) under that ftsdk home.
    runtime_for(ENGINES_HOME).ensure()
    as_json = json.loads(_providers(ENGINES_HOME, "--json").stdout)
    [trl] = [row for row in as_json["providers"] if row["name"] == "trl"]
    assert trl["engines"]["skypilot"] == {"installed": True}
