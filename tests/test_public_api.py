"""The public namespace is flat, pinned, and cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import ftsdk

PUBLIC = [
    "DPO",
    "SFT",
    "AsyncClient",
    "AsyncJob",
    "AsyncModel",
    "Budget",
    "Capabilities",
    "ChatChunk",
    "ChatParams",
    "ChatResponse",
    "ChatStream",
    "Checkpoint",
    "Client",
    "DataFormat",
    "Dataset",
    "FileRef",
    "Job",
    "JobError",
    "JobEvent",
    "JobSpec",
    "JobState",
    "JobStatus",
    "Metric",
    "MethodType",
    "Model",
    "ModelInfo",
    "ModelServer",
    "Operation",
    "Provider",
    "ProviderOptions",
    "ProviderRegistry",
    "RetryPolicy",
    "TrainingRequest",
    "Usage",
    "__version__",
    "async_client",
    "client",
    "compare",
    "errors",
    "hookimpl",
    "providers",
    "serve",
    "sweep",
]
HEAVY = {
    "torch",
    "openai",
    "transformers",
    "trl",
    "peft",
    "azure",
    "datasets",
    "tiktoken",
    "numpy",
    "pandas",
    "huggingface_hub",
    "tqdm",
    "click",
    "pluggy",
    "tenacity",
    "optuna",
    "sqlalchemy",
}


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return {name.split(".")[0] for name in json.loads(out.stdout.splitlines()[-1])}


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert ftsdk.__all__ == PUBLIC
    for name in ftsdk.__all__:
        assert getattr(ftsdk, name) is not None, name


def test_public_names_have_docstrings() -> None:
    for name in ftsdk.__all__:
        value = getattr(ftsdk, name)
        if callable(value) and not isinstance(value, str) and name != "MethodType":
            assert (value.__doc__ or "").strip(), f"ftsdk.{name} has no docstring"


def test_import_ftsdk_loads_no_sdk_torch_or_tooling() -> None:
    assert not loaded_after("import ftsdk") & HEAVY


def test_building_a_spec_loads_no_sdk() -> None:
    code = (
        "import ftsdk\n"
        "ftsdk.JobSpec(base_model='m', training_data='t.jsonl', method=ftsdk.SFT(epochs=1))"
    )
    assert not loaded_after(code) & (HEAVY - {"tenacity"})


def test_loading_every_plugin_imports_no_sdk_or_torch() -> None:
    loaded = loaded_after("import ftsdk\nftsdk.providers()")
    assert not loaded & {"torch", "openai", "transformers", "trl", "azure", "autotrain"}


def test_cli_help_is_cheap() -> None:
    loaded = loaded_after("from ftsdk.cli import main")
    assert not loaded & (HEAVY - {"click"})
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ftsdk")), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "providers" in result.stdout


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        ftsdk.Nope  # type: ignore[attr-defined]  # noqa: B018
