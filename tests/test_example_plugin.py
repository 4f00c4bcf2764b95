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
    # Counted without the one import of ftsdk.plugin, which the formatter writes a name a line.
    block = lines.index("from ftsdk.plugin import (")
    end = lines.index(")", block)
    assert len(lines) - (end - block) <= 80


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
    assert listed["echo"]["capabilities"]["operations"] == ["chat", "stream"]


def test_installed_plugin_passes_its_own_tests_and_the_conformance_kit(
    installed: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "report.xml"
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
            f"--junitxml={report}",
            str(EXAMPLE / "tests"),
        ],
        capture_output=True,
        text=True,
        env=installed,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcomes = _outcomes(report)
    # Every declaration test and every behaviour test ran; only those needing training
    # (echo declares none) or an HTTP failure echo cannot have were skipped, saying why.
    from ftsdk.testing.behaviour import ProviderBehaviour
    from ftsdk.testing.conformance import ProviderConformance

    for kit in (ProviderConformance, ProviderBehaviour):
        for name in (n for n in dir(kit) if n.startswith("test_")):
            assert any(t.startswith(name) for t in outcomes), f"{name} did not run"
    skipped = {name: why for name, why in outcomes.items() if why is not None}
    assert all(
        "does not declare 'train'" in why or "cannot provoke HTTP" in why
        for why in skipped.values()
    ), skipped
    passed = {name for name, why in outcomes.items() if why is None}
    assert {
        "test_streamed_pieces_join_to_the_chat_answer",
        "test_errors_are_mapped[401]",
        "test_errors_are_mapped[404]",
        "test_secrets_never_in_reprs_or_logs",
        "test_chat_through_the_installed_plugin",
    } <= passed, passed


def _outcomes(report: Path) -> dict[str, str | None]:
    """Each test case of a JUnit XML report: ``None`` when it passed, else why it skipped."""
    import xml.etree.ElementTree as ET

    found: dict[str, str | None] = {}
    for case in ET.parse(report).iter("testcase"):
        assert case.find("failure") is None, case.attrib
        assert case.find("error") is None, case.attrib
        skip = case.find("skipped")
        found[case.attrib["name"]] = None if skip is None else skip.attrib.get("message", "")
    return found
