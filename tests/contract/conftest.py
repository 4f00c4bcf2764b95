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
    "azure-inference-2024-10-21": AZURE / "dataplane-inference-2024-10-21" / "inference.json",
    "azure-arm-2024-10-01": AZURE / "arm-2024-10-01" / "cognitiveservices.json",
}
"""The descriptions Prism serves: OpenAI's as openai-python ran its tests on it, and Azure's
v1 and dated (2024-10-21) data plane (authoring and inference) and its Resource Manager
(2024-10-01) as Azure/azure-rest-api-specs publishes them."""
COMMON_TYPES = AZURE / "common-types-v2"
"""``specification/common-types/resource-management/v2``: what Resource Manager descriptions
point at for their shared parameters (``api-version``, ``subscriptionId``) and types."""
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


def with_common_types(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the common-types files it points at (``../../../../../common-types/
    resource-management/v2/*.json#/...``) copied in under ``types.json.X`` names, so one file
    holds everything: Prism is served a copy elsewhere (the relative paths would not resolve)
    and :class:`~tests.contract.prism.Declared` follows only local references."""
    files = {name: load(COMMON_TYPES / name) for name in ("types.json", "privatelinks.json")}

    def local(ref: str, here: str) -> str:
        target, _, pointer = ref.partition("#")
        name = target.rsplit("/", 1)[-1] or here
        section, _, key = pointer.removeprefix("/").partition("/")
        return f"#/{section}/{name}.{key}" if name in files else ref

    def point(node: Any, here: str) -> Any:
        if isinstance(node, dict):
            return {
                k: local(v, here) if k == "$ref" and isinstance(v, str) else point(v, here)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [point(v, here) for v in node]
        return node

    merged: dict[str, Any] = point(document, "")
    for name, common in files.items():
        for section in ("definitions", "parameters"):
            for key, value in common.get(section, {}).items():
                merged.setdefault(section, {})[f"{name}.{key}"] = point(value, name)
    return merged


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
            if name.startswith("azure-arm"):
                document = with_common_types(document)
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
