"""Mistakes a newcomer makes on the command line, answered with what to do: no provider,
a misspelt one, errors as JSON for scripts, and a model that cannot be served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ftsdk
from ftsdk.errors import ConfigurationError

FTSDK = Path(sys.executable).with_name("ftsdk")


def ftsdk_run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real ``ftsdk`` program, with no provider chosen unless ``env`` chooses one."""
    clean = {k: v for k, v in os.environ.items() if k != "FTSDK_PROVIDER"}
    return subprocess.run(
        [str(FTSDK), *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(autouse=True)
def no_stored_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTSDK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("FTSDK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FTSDK_PROVIDER", raising=False)


def test_no_provider_says_how_to_choose_one() -> None:
    result = ftsdk_run("jobs", "list")
    assert result.returncode == 1
    assert "None" not in result.stderr
    assert "no provider given: pass one (-p NAME" in result.stderr
    assert "set FTSDK_PROVIDER=NAME" in result.stderr
    assert "ftsdk config set provider NAME" in result.stderr
    assert "installed: autotrain, azure, openai, trl" in result.stderr


def test_a_misspelt_provider_gets_the_close_name() -> None:
    result = ftsdk_run("jobs", "list", "-p", "openia")
    assert result.returncode == 1
    assert "no provider named 'openia'; did you mean openai?" in result.stderr
    with pytest.raises(ConfigurationError, match="did you mean openai"):
        ftsdk.client("openia")
    with pytest.raises(ConfigurationError, match="no provider given"):
        ftsdk.client()


def test_with_json_an_error_is_one_json_object() -> None:
    result = ftsdk_run("jobs", "list", "-p", "openia", "--json")
    assert result.returncode == 1
    error = json.loads(result.stderr)["error"]
    assert error["type"] == "ConfigurationError"
    assert "did you mean openai?" in error["message"]
    assert result.stdout == ""


def test_json_errors_list_every_problem_of_a_spec(tmp_path: Path) -> None:
    spec = tmp_path / "job.json"
    spec.write_text('{"base_model": "m", "training_file": "t.jsonl", "sed": 1}')
    result = ftsdk_run("train", str(spec), "-p", "openai", "--json", OPENAI_API_KEY="sk-x")
    error = json.loads(result.stderr)["error"]
    assert (result.returncode, error["type"]) == (1, "InvalidRequest")
    assert error["problems"] == [
        f"{spec}:1: training_file: unknown field; did you mean training_data?",
        f"{spec}:1: sed: unknown field; did you mean seed?",
    ]


def test_serve_checks_the_model_before_saying_it_serves() -> None:
    result = ftsdk_run("serve", "no-such-model", "-p", "trl", "--port", "0")
    assert result.returncode == 1
    assert "Serving" not in result.stdout
    assert "Traceback" not in result.stderr
    assert "error: InvalidRequest: cannot serve no-such-model: " in result.stderr
    assert "`ftsdk models list -p trl` lists the models your jobs made" in result.stderr
