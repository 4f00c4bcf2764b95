"""The guide and the CLI page document every scorer, report field and ``ftsdk compare``
option."""

from __future__ import annotations

from pathlib import Path

from ftsdk.cli.compare import compare as command
from ftsdk.compare import ItemResult, Side, Summary
from ftsdk.compare.scorers import BUILTIN

DOCS = Path(__file__).parents[2] / "docs" / "guide"
GUIDE = (DOCS / "compare.md").read_text()
CLI = (DOCS / "cli.md").read_text()


def test_every_builtin_scorer_is_in_the_guide() -> None:
    for name in BUILTIN:
        assert f"| `{name}` |" in GUIDE, name


def test_every_report_field_is_in_the_guide() -> None:
    for model in (ItemResult, Side, Summary):
        for field in model.model_fields:
            if field not in ("role", "index"):
                assert f"`{field}`" in GUIDE, (model.__name__, field)


def test_every_option_of_ftsdk_compare_is_on_the_cli_page() -> None:
    for param in command.params:
        for option in param.opts:
            if option.startswith("--") and option not in ("--provider", "--set"):
                assert f"`{option}" in CLI, option
