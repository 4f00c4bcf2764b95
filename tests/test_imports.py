"""The core's modules import each other without cycles, and a provider plugin loads only
the contract: not the dataset toolkit, which it does not need to be registered.

The import graph is read from the source with ``ast``: every ``import`` a module runs,
at its top or inside a function (``if TYPE_CHECKING:`` blocks excepted, they never run),
``from ftsdk import Name`` followed to the module the lazy table names.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ftsdk

PACKAGE = Path(ftsdk.__file__).parent
ROOT = PACKAGE.parent

LEFT_OUT = ("ftsdk.testing.emulator",)
"""Not core: the OpenAI/Azure emulator is leaving the package for its own distribution,
``ftsdk-emulator`` (issue 17)."""

ALLOWED_LAZY = {
    ("ftsdk.compare.report", "ftsdk.compare.html"): (
        "ComparisonReport.html() loads the renderer only when a report is rendered; the "
        "renderer reads the report's types"
    ),
    ("ftsdk.serving.openai_api", "ftsdk.serving.responses_api"): (
        "the server mounts the Responses route on first use; the route builds on the "
        "chat server's helpers"
    ),
}
"""The only edges allowed to close a cycle, each an import inside a function, and why."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and "TYPE_CHECKING" in {
        getattr(test, "id", None),
        getattr(test, "attr", None),
    }


def imports(path: Path) -> list[tuple[str, str | None, bool]]:
    """``(module, name, lazy)`` for each import ``path`` runs; ``lazy`` inside a function."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: list[tuple[str, str | None, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                for other in getattr(child, "orelse", []):
                    visit(other, lazy)
            elif isinstance(child, ast.Import):
                found.extend((alias.name, None, lazy) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package[: len(package) - (child.level - 1)]
                    base = ".".join([*parent, *([child.module] if child.module else [])])
                found.extend((base, alias.name, lazy) for alias in child.names)
            else:
                inside = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                visit(child, lazy or inside)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def import_graph() -> dict[str, dict[str, bool]]:
    """Module -> imported core module -> whether every import of it there is lazy."""
    modules = {
        module_name(path): path
        for path in PACKAGE.rglob("*.py")
        if not module_name(path).startswith(LEFT_OUT)
    }
    graph: dict[str, dict[str, bool]] = {}
    for name, path in modules.items():
        edges: dict[str, bool] = {}
        for base, imported, lazy in imports(path):
            target = base
            if imported and f"{base}.{imported}" in modules:
                target = f"{base}.{imported}"  # a submodule: ``from ftsdk import errors``
            elif base == "ftsdk" and imported in ftsdk._LOCATIONS:
                target = ftsdk._LOCATIONS[imported]  # followed through the lazy table
            if target in modules and target != name:
                edges[target] = edges.get(target, True) and lazy
        graph[name] = edges
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph``, as the modules along it, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := walk(start)):
            return found
    return None


def test_the_core_has_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the walk found the package
    kept = {
        module: {target for target in edges if (module, target) not in ALLOWED_LAZY}
        for module, edges in graph.items()
    }
    assert cycle(kept) is None, " -> ".join(cycle(kept) or [])


def test_the_allowed_edges_are_lazy_imports() -> None:
    graph = import_graph()
    for (module, target), why in ALLOWED_LAZY.items():
        if module in graph and target in graph[module]:
            assert graph[module][target], f"{module} imports {target} at its top ({why})"


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_contract_modules_import_nothing_upward() -> None:
    graph = import_graph()
    graders = {name for name in graph if name.startswith("ftsdk.graders")}
    # RFT holds a grader, so the methods read the graders: a leaf too, errors only.
    assert set(graph["ftsdk.methods"]) <= {
        "ftsdk._vocab",
        "ftsdk.spec_errors",
        "ftsdk.errors",
        *graders,
    }
    for name in graders:
        assert set(graph[name]) <= {"ftsdk.errors", *graders}, name
    assert set(graph["ftsdk.capabilities"]) <= {"ftsdk._vocab", "ftsdk.methods"}
    assert "ftsdk.dataset" not in graph["ftsdk.spec"]


@pytest.mark.parametrize("plugin", ["ftsdk_openai", "ftsdk_azure"])
def test_a_provider_plugin_does_not_load_the_dataset_toolkit(plugin: str) -> None:
    code = f"import json, sys, {plugin}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    assert "ftsdk.provider" in loaded
    assert not {m for m in loaded if m == "ftsdk.dataset" or m.startswith("ftsdk.dataset.")}
