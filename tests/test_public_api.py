"""The public namespace is flat, pinned, and cheap to import."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ftsdk

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


def type_checking_names() -> dict[str, set[str]]:
    """What ``ftsdk/__init__.py`` imports for type checkers, by module, read with ``ast``."""
    tree = ast.parse(Path(ftsdk.__file__).read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    found: dict[str, set[str]] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom), ast.dump(node)
        found.setdefault(node.module or "", set()).update(a.name for a in node.names)
    return found


def test_all_is_read_from_the_one_table() -> None:
    table = ftsdk._EXPORTS
    names = [name for names in table.values() for name in names]
    assert len(names) == len(set(names)), "a name exported from two modules"
    expected = sorted({*names, *ftsdk._SUBMODULES, "__version__"})
    assert ftsdk.__all__ == expected


def test_type_checkers_see_the_same_names_as_the_table() -> None:
    seen = type_checking_names()
    submodules = seen.pop("ftsdk")
    assert submodules == set(ftsdk._SUBMODULES)
    assert seen == {module: set(names) for module, names in ftsdk._EXPORTS.items()}


def test_every_name_resolves_to_its_module_s_own_object() -> None:
    for module_name, names in ftsdk._EXPORTS.items():
        module = importlib.import_module(module_name)
        for name in names:
            assert getattr(ftsdk, name) is getattr(module, name), name
            assert name in getattr(module, "__all__", [name]), f"{module_name} hides {name}"
    for name in ftsdk._SUBMODULES:
        assert getattr(ftsdk, name) is importlib.import_module(f"ftsdk.{name}")


def test_the_user_facing_names_stay() -> None:
    # The names application code and the docs use: removing one breaks users.
    assert {
        "client",
        "async_client",
        "Client",
        "AsyncClient",
        "Job",
        "AsyncJob",
        "Model",
        "AsyncModel",
        "ChatStream",
        "JobSpec",
        "SFT",
        "DPO",
        "RFT",
        "Provider",
        "providers",
        "errors",
    } <= set(ftsdk.__all__)
    from ftsdk.aio import AsyncChatStream, AsyncClient, AsyncJob, AsyncModel, async_client

    assert (AsyncClient, AsyncJob, AsyncModel, async_client) == (
        ftsdk.AsyncClient,
        ftsdk.AsyncJob,
        ftsdk.AsyncModel,
        ftsdk.async_client,
    )
    assert AsyncChatStream.__module__ == "ftsdk.models"


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
