"""The docs say what the code does: every hook, operation, capability field, error,
environment variable and built-in provider is documented, and local links resolve."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType, SimpleNamespace

import click
import pytest

import ftsdk
from ftsdk import errors, hookspecs
from ftsdk.capabilities import Capabilities, Operation
from ftsdk.plugins import load_registry
from ftsdk.provider import methods_of
from ftsdk.testing.behaviour import ProviderBehaviour
from ftsdk.testing.conformance import ProviderConformance

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
AUTHORING = (ROOT / "docs" / "plugins" / "authoring.md").read_text()
CONCEPTS = (ROOT / "docs" / "guide" / "concepts.md").read_text()


def table_row(text: str, first_cell: str) -> str:
    for line in text.splitlines():
        if line.startswith(f"| {first_cell} |"):
            return line
    raise AssertionError(f"no table row for {first_cell}")


def test_the_hook_is_documented_with_its_exact_signature() -> None:
    hooks = [
        name for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, "ftsdk_spec")
    ]
    assert hooks == ["register_providers"]
    for name in hooks:
        signature = str(inspect.signature(getattr(hookspecs, name))).replace("'", "")
        assert f"def {name}{signature}" in AUTHORING


@pytest.mark.parametrize("operation", list(Operation))
def test_each_operation_and_its_methods_are_documented(operation: Operation) -> None:
    row = table_row(AUTHORING, f"`{operation.value}`")
    for method in methods_of(operation):
        assert f"`{method.sync.__name__}(" in row
    assert f"`{operation.value}`" in CONCEPTS or operation.value in CONCEPTS


def test_each_capabilities_field_is_documented() -> None:
    for field in Capabilities.model_fields:
        table_row(AUTHORING, f"`{field}`")
        assert f"`{field}`" in CONCEPTS


def test_each_hyperparameter_is_documented() -> None:
    for field in set(ftsdk.SFT.model_fields) | set(ftsdk.DPO.model_fields) - {"type"}:
        if field != "type":
            assert f"`{field}`" in CONCEPTS, field


@pytest.mark.parametrize("kit", [ProviderConformance, ProviderBehaviour])
def test_each_conformance_test_is_documented(kit: type) -> None:
    for name in dir(kit):
        if name.startswith("test_"):
            table_row(AUTHORING, f"`{name}`")


def test_the_error_tree_in_the_guide_is_the_one_in_the_code() -> None:
    tree = "\n".join(
        line[4:]
        for line in (errors.__doc__ or "").splitlines()
        if line.startswith("    ") and re.search(r"[A-Z]\w+\s{2,}", line)
    )
    assert tree in CONCEPTS


def test_every_environment_variable_is_documented() -> None:
    used = set()
    for path in (ROOT / "ftsdk").rglob("*.py"):
        used |= set(re.findall(r"FTSDK_[A-Z_]+", path.read_text()))
    assert used
    for name in sorted(used):
        assert f"`{name}`" in README, name
        assert f"`{name}`" in CONCEPTS, name


def test_each_builtin_provider_has_a_page_listing_its_variables() -> None:
    for reg in load_registry():
        page = (ROOT / "docs" / "providers" / f"{reg.name}.md").read_text()
        assert reg.distribution in page
        for var in reg.provider.credential_env_vars:
            assert f"`{var}`" in page, (reg.name, var)
        assert reg.name in README


def test_readme_gives_two_commands_that_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    for command in ("./scripts/setup", "./scripts/test"):
        assert f"\n{command}" in README
        assert f"\n{command}\n" in ci
        assert (ROOT / command).stat().st_mode & 0o111


def cli_commands() -> dict[str, click.Command]:
    """Every command under ``ftsdk``, by its full command line, walked recursively."""
    from ftsdk.cli import main

    def walk(group: click.Group, prefix: str) -> dict[str, click.Command]:
        found: dict[str, click.Command] = {}
        context = click.Context(group)
        for name in group.list_commands(context):  # plugins' commands included
            command = group.get_command(context, name)
            assert command is not None, name
            found[f"{prefix} {name}"] = command
            if isinstance(command, click.Group):
                found |= walk(command, f"{prefix} {name}")
        return found

    return walk(main, "ftsdk")


def test_every_cli_command_is_documented() -> None:
    guide = (ROOT / "docs" / "guide" / "cli.md").read_text()
    for name in cli_commands():
        parent, _, leaf = name.rpartition(" ")
        assert name in guide or (parent in guide and f"{leaf} ID" in guide), name


def test_local_links_resolve() -> None:
    for page in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), (page, target)


def docs_hook(name: str) -> ModuleType:
    """A module of ``docs/hooks``, loaded the way MkDocs loads it: from its file."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "hooks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_covers_every_command_and_option() -> None:
    hook = docs_hook("cli_reference")
    page = SimpleNamespace(file=SimpleNamespace(src_uri=hook.PAGE))
    source = (ROOT / "docs" / hook.PAGE).read_text()
    rendered = hook.on_page_markdown(source, page=page)
    sections = re.split(r"^## ", rendered, flags=re.M)[1:]
    by_name = {section.split("`")[1]: section for section in sections}
    assert set(by_name) == {"ftsdk", *cli_commands()}
    for name, command in cli_commands().items():
        section = by_name[name]
        assert f"```text\n{name} [OPTIONS]" in section, name
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                rows = [line for line in section.splitlines() if line.startswith("| `")]
                row = next((r for r in rows if param.opts[0] in r.split("|")[1]), None)
                assert row is not None, (name, param.opts[0])
                assert all(opt in row for opt in param.opts + param.secondary_opts), row
        if command.help:
            assert command.help.split("\n")[0].strip()[:40] in section, name


def test_the_cli_reference_page_is_built_by_the_hook() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    assert "\n  - docs/hooks/cli_reference.py\n" in config
    assert " reference/cli.md\n" in config


@pytest.mark.parametrize("module", ["ftsdk", "ftsdk.dataset", "ftsdk_emulator"])
def test_every_public_name_is_in_the_api_reference(module: str) -> None:
    reference = "\n".join(
        page.read_text() for page in (ROOT / "docs" / "reference" / "api").glob("*.md")
    )
    imported = importlib.import_module(module)
    names = set(imported.__all__) - {"__version__"}
    submodules = {n for n in names if inspect.ismodule(getattr(imported, n))}
    # A name that ftsdk also exports is documented once, as ftsdk.NAME.
    paths = {name: "ftsdk" if name in ftsdk.__all__ else module for name in names}
    missing = sorted(
        name for name in names - submodules if f"::: {paths[name]}.{name}\n" not in reference
    )
    assert not missing, f"add `::: {module}.NAME` to a page of docs/reference/api: {missing}"
    for name in submodules:  # a module exported by name has a page of its own
        assert f"::: {module}.{name}" in reference, name


def test_the_demo_is_described_with_the_same_figures_everywhere() -> None:
    pages = [README, *(ROOT / "docs" / p for p in ("providers/trl.md", "guide/compare.md"))]
    texts = [" ".join((p if isinstance(p, str) else p.read_text()).split()) for p in pages]
    for figure in (
        "exact match 0 % → ~96 % (95-98 % measured)",
        "training ~30 s on 2 CPU cores, the whole demo 1-3 minutes",
    ):
        assert all(figure in text for text in texts), figure


def test_the_docs_install_from_the_repository_and_use_the_hub_cli_that_is_installed() -> None:
    index = (ROOT / "docs" / "index.md").read_text()
    assert "pip install ftsdk ftsdk-openai" not in index  # nothing is published
    assert "./scripts/setup" in index
    for page in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        assert "huggingface-cli" not in page.read_text(), page  # the hub installs `hf`
