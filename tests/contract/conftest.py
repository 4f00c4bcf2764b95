"""Prism servers for the contract tests: every spec is started at once on first use (the
OpenAI description alone takes seconds of CPU to load), each waited for when a module needs it,
and all stopped by process id at the end of the session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.contract.prism import PRISM, Prism, npm_missing_reason

ROOT = Path(__file__).resolve().parents[2]
AZURE = ROOT / "specs" / "azure"
SPECS = {
    "openai": ROOT.parent / "shared" / "specs" / "openai-openapi.yaml",
    "azure-v1": AZURE / "dataplane-v1" / "azure-v1-v1-generated.yaml",
    "azure-2024-10-21": AZURE / "dataplane-authoring-2024-10-21" / "azureopenai.json",
}
"""The descriptions Prism serves: OpenAI's as openai-python ran its tests on it, and Azure's
v1 and dated (2024-10-21) data plane as Azure/azure-rest-api-specs publishes them."""
READY_TIMEOUT = 240.0
STARTUP: dict[str, float] = {}


def load(spec: Path) -> dict[str, Any]:
    text = spec.read_text()
    document: dict[str, Any] = (
        json.loads(text) if spec.suffix == ".json" else yaml.load(text, Loader=yaml.CSafeLoader)
    )
    return document


def without_example_files(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as Prism can load it: Azure's descriptions point their ``x-ms-examples`` (a
    documentation extension Prism does not read) at example files we did not copy, and Prism
    stops on the first reference it cannot open. Everything else is kept as it is."""

    def drop(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: drop(v) for k, v in node.items() if k != "x-ms-examples"}
        if isinstance(node, list):
            return [drop(v) for v in node]
        return node

    kept: dict[str, Any] = drop(document)
    return kept


@pytest.fixture(scope="session")
def prisms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Prism]]:
    """A Prism per spec present, all started now; :func:`serving` waits for one."""
    reason = npm_missing_reason()
    if reason:
        pytest.skip(reason)
    if not PRISM.exists():  # npm is here: a missing Prism is a broken set-up, not a skip
        pytest.fail(f"{PRISM.relative_to(ROOT)} is missing: run ./scripts/setup (npm ci)")
    logs = tmp_path_factory.mktemp("prism")
    started: dict[str, Prism] = {}
    for name, spec in SPECS.items():
        if not spec.exists():
            continue
        if name == "openai":
            started[name] = Prism(spec, log=logs / f"{name}.log", document=load(spec))
        else:
            document = without_example_files(load(spec))
            served = logs / f"{name}.json"
            served.write_text(json.dumps(document))
            started[name] = Prism(served, log=logs / f"{name}.log", document=document)
    try:
        for prism in started.values():
            prism.start()
        yield started
    finally:
        for prism in started.values():
            prism.stop()


def serving(prisms: dict[str, Prism], name: str) -> Prism:
    """The Prism serving ``name``, once it listens (skipped when its spec is not here)."""
    if name not in prisms:
        pytest.skip(f"{SPECS[name]} is not here")
    prism = prisms[name]
    prism.wait_ready(READY_TIMEOUT)
    if prism.startup_seconds is not None:
        STARTUP[name] = prism.startup_seconds
    return prism


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if STARTUP:
        times = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in STARTUP.items())
        terminalreporter.write_line(f"Prism listening after: {times} (started side by side)")
