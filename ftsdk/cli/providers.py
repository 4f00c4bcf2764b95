"""``ftsdk providers``: what is installed, what each provider can do, what failed."""

from __future__ import annotations

import json
import sys
import warnings
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ftsdk.datarules import DataRules

__all__ = ["BUILTIN_DISTRIBUTIONS", "providers"]

BUILTIN_DISTRIBUTIONS = frozenset({"ftsdk-openai", "ftsdk-azure", "ftsdk-trl", "ftsdk-autotrain"})


def _rules_summary(rules: DataRules | None) -> dict[str, object] | None:
    """The declared limits and formats (models, prices and sources are left to the docs)."""
    if rules is None:
        return None
    return rules.model_dump(mode="json", exclude={"models", "aliases", "sources"}) | {
        "models": sorted(rules.models)
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--check", is_flag=True, help="Exit with status 1 when a built-in plugin failed to load."
)
def providers(as_json: bool, check: bool) -> None:
    """List providers with their version and capabilities, and plugins that failed."""
    from ftsdk.plugins import PluginLoadWarning, load_registry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)  # listed below instead
        registry = load_registry()
    rows = [
        {
            "name": reg.name,
            "display_name": reg.provider.display_name or reg.name,
            "distribution": reg.distribution,
            "version": reg.version,
            "capabilities": reg.provider.capabilities.summary(),
            "data_rules": _rules_summary(reg.provider.data_rules),
            "engines": {
                name: {"installed": how is None} | ({"install": how} if how else {})
                for name, how in reg.provider.engines().items()
            },
        }
        for reg in registry
    ]
    failures = [
        {"plugin": f.plugin, "distribution": f.distribution, "error": f.error}
        for f in registry.failures
    ]
    if as_json:
        click.echo(json.dumps({"providers": rows, "failures": failures}, indent=2))
    else:
        for reg, row in zip(registry, rows, strict=True):
            caps = reg.provider.capabilities
            methods = ", ".join(sorted(caps.methods)) or "-"
            operations = ", ".join(sorted(caps.operations)) or "none yet"
            click.echo(f"{reg.name:<12} {reg.distribution} {reg.version or ''}")
            click.echo(f"{'':<12} methods: {methods}")
            click.echo(f"{'':<12} operations: {operations}")
            _echo_engines(row["engines"])  # type: ignore[arg-type]
        if not len(registry):
            click.echo("no providers installed (pip install ftsdk-openai, ...)")
        for failure in failures:
            click.echo(
                f"FAILED {failure['plugin']} ({failure['distribution']}): {failure['error']}",
                err=True,
            )
    if check and any(f.distribution in BUILTIN_DISTRIBUTIONS for f in registry.failures):
        sys.exit(1)


def _echo_engines(engines: dict[str, dict[str, object]]) -> None:
    """The engines line, and how to install each missing one (one a line)."""
    if not engines:
        return
    installed = [name for name, engine in engines.items() if engine["installed"]]
    click.echo(f"{'':<12} engines: {', '.join(installed) or 'none'}")
    for name, engine in engines.items():
        if not engine["installed"]:
            click.echo(f"{'':<12}   {name}: not installed: {engine['install']}")
