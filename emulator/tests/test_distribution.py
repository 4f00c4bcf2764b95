"""``ftsdk-emulator`` is a distribution of its own: ``import ftsdk`` never loads it, the test
kit's names for it are the same objects, and without it they say what to install."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import ftsdk_emulator
import ftsdk_emulator.hub

SERVER_STACK = {"ftsdk_emulator", "starlette", "uvicorn", "jsonschema", "trustme", "multipart"}
EMULATOR = Path(__file__).parents[1]
PIP_WHEEL = [
    sys.executable,
    "-m",
    "pip",
    "wheel",
    "--quiet",
    "--no-deps",
    "--no-build-isolation",
    "--no-index",
]
HIDDEN = "import sys\nsys.modules['ftsdk_emulator'] = None  # as if not installed\n"


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_import_ftsdk_and_its_plugins_load_no_emulator() -> None:
    code = (
        "import ftsdk, json, sys\nftsdk.providers().names()\nprint(json.dumps(list(sys.modules)))"
    )
    out = run(code)
    assert out.returncode == 0, out.stderr
    loaded = {name.split(".")[0] for name in json.loads(out.stdout.splitlines()[-1])}
    assert not loaded & SERVER_STACK


def test_the_kit_names_are_the_emulator_s_own() -> None:
    from ftsdk.testing import emulator, hub

    for name in emulator.__all__:
        assert getattr(emulator, name) is getattr(ftsdk_emulator, name), name
    for name in hub.__all__:
        assert getattr(hub, name) is getattr(ftsdk_emulator.hub, name), name


def test_without_the_distribution_the_kit_says_what_to_install() -> None:
    for module in ("ftsdk.testing.emulator", "ftsdk.testing.hub"):
        out = run(HIDDEN + f"import {module}")
        assert out.returncode == 1
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith("ModuleNotFoundError: "), last
        assert f"{module} needs the ftsdk-emulator distribution" in last
        assert "pip install 'ftsdk[testing]'" in last


def test_without_the_distribution_the_command_says_what_to_install() -> None:
    out = run(HIDDEN + "from ftsdk.cli import main\nsys.argv = ['ftsdk', 'emulator']\nmain()")
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "Error: ftsdk.testing.emulator needs the ftsdk-emulator distribution, which is not "
        "installed: pip install 'ftsdk[testing]' (or pip install ftsdk-emulator)"
    )


def test_the_testing_extra_installs_the_emulator() -> None:
    extra = [r for r in importlib.metadata.requires("ftsdk") or [] if "testing" in r]
    assert any(r.startswith("ftsdk-emulator") for r in extra), extra
    needs = importlib.metadata.requires("ftsdk-emulator") or []
    assert {r.split(">")[0] for r in needs} >= {"ftsdk", "starlette", "uvicorn", "pyyaml"}


def test_the_wheel_carries_the_api_descriptions_and_no_tests(tmp_path: Path) -> None:
    """The strict mode reads the JSON subsets at run time: a wheel without them would fail
    only on a user's machine."""
    subprocess.run(
        [*PIP_WHEEL, "--wheel-dir", str(tmp_path), str(EMULATOR)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("ftsdk_emulator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "openai-subset.json",
        "azure-subset.json",
        "py.typed",
        "hub.py",
        "entra/authority.py",
    ):
        assert f"ftsdk_emulator/{name}" in names, name
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]
