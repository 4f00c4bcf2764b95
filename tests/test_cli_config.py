"""``ftsdk config``: a stored default provider and settings, under the user's config folder;
the flag wins over the environment, the environment over the file; credentials stay out of
the file unless asked for, and then only the owner can read it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ftsdk.testing.emulator import Emulator

FTSDK = Path(sys.executable).with_name("ftsdk")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FTSDK_", "OPENAI_"))}
    return clean | {"FTSDK_CONFIG_DIR": str(tmp_path / "config"), "FTSDK_NO_PROGRESS": "1"}


def ftsdk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FTSDK), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_stored_default_provider_and_setting_are_used(
    env: dict[str, str], tmp_path: Path
) -> None:
    with Emulator() as emu:
        assert ftsdk(env, "config", "set", "provider", "openai").returncode == 0
        assert ftsdk(env, "config", "set", "openai.base_url", emu.openai_base_url).returncode == 0
        listed = ftsdk(env | {"OPENAI_API_KEY": emu.api_key}, "jobs", "list")
        assert (listed.returncode, listed.stdout.strip()) == (0, "no jobs"), listed.stderr
    assert ftsdk(env, "config", "get", "provider").stdout == "openai\n"
    shown = json.loads(ftsdk(env, "config", "list", "--json").stdout)
    assert shown == {"openai.base_url": emu.openai_base_url, "provider": "openai"}
    stored = tmp_path / "config" / "config.json"
    assert json.loads(stored.read_text())["provider"] == "openai"


def test_the_flag_wins_over_the_environment_and_the_environment_over_the_file(
    env: dict[str, str],
) -> None:
    ftsdk(env, "config", "set", "provider", "openai")
    # Each choice shows in the error of a provider that is not installed.
    chosen = ftsdk(env | {"FTSDK_PROVIDER": "from-env"}, "jobs", "list")
    assert "no provider named 'from-env'" in chosen.stderr
    chosen = ftsdk(env | {"FTSDK_PROVIDER": "from-env"}, "jobs", "list", "-p", "from-flag")
    assert "no provider named 'from-flag'" in chosen.stderr
    chosen = ftsdk(env, "jobs", "list")  # the file's: openai, asking for its key
    assert "OPENAI_API_KEY" in chosen.stderr
    ftsdk(env, "config", "unset", "provider")
    assert "no provider given" in ftsdk(env, "jobs", "list").stderr


def test_credentials_are_stored_only_when_asked_and_then_owner_only(
    env: dict[str, str], tmp_path: Path
) -> None:
    stored = tmp_path / "config" / "config.json"
    refused = ftsdk(env, "config", "set", "openai.api_key", "sk-secret")
    assert refused.returncode == 1
    assert "looks like a credential" in refused.stderr
    assert "--secret" in refused.stderr
    assert not stored.exists()
    assert ftsdk(env, "config", "set", "openai.api_key", "sk-secret", "--secret").returncode == 0
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert "sk-secret" not in ftsdk(env, "config", "list").stdout


def test_a_wrong_key_or_provider_is_refused_with_what_to_use(env: dict[str, str]) -> None:
    wrong = ftsdk(env, "config", "set", "base_url", "x")
    assert "use `provider` (the default provider) or PROVIDER.SETTING" in wrong.stderr
    misspelt = ftsdk(env, "config", "set", "provider", "openia")
    assert "did you mean openai?" in misspelt.stderr
    missing = ftsdk(env, "config", "get", "provider")
    assert (missing.returncode, missing.stderr.startswith("error: ConfigurationError")) == (1, True)
