"""The third-party example plugin in docs/ installs with pip, registers through its entry
point, and passes the conformance kit, exactly as an outside author's would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "ftsdk-echo"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    target = tmp_path_factory.mktemp("echo-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return {**os.environ, "PYTHONPATH": str(target), "FTSDK_NO_PROGRESS": "1"}


def test_the_plugin_module_is_short() -> None:
    lines = (EXAMPLE / "ftsdk_echo" / "__init__.py").read_text().splitlines()
    assert len(lines) <= 80


def test_installed_plugin_is_listed(installed: dict[str, str]) -> None:
    out = subprocess.run(
        [str(Path(sys.executable).with_name("ftsdk")), "providers", "--json"],
        capture_output=True,
        text=True,
        env=installed,
        check=True,
        timeout=120,
    )
    listed = {p["name"]: p for p in json.loads(out.stdout)["providers"]}
    assert listed["echo"]["distribution"] == "ftsdk-echo"
    assert listed["echo"]["version"] == "1.0.0"
    assert listed["echo"]["capabilities"]["operations"] == ["chat"]


def test_installed_plugin_passes_its_own_tests_and_the_conformance_kit(
    installed: dict[str, str],
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            str(EXAMPLE / "pyproject.toml"),
            "--rootdir",
            str(EXAMPLE),
            str(EXAMPLE / "tests"),
        ],
        capture_output=True,
        text=True,
        env=installed,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    from ftsdk.testing.conformance import ProviderConformance

    kit = [name for name in dir(ProviderConformance) if name.startswith("test_")]
    assert f"{len(kit) + 2} passed" in result.stdout, result.stdout  # the kit and its own 2
