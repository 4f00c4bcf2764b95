"""The "Preparing data" guide documents every kind of problem and every `ftsdk data` command."""

from __future__ import annotations

from pathlib import Path

from ftsdk.cli.data import data
from ftsdk.dataset import KINDS

GUIDE = (Path(__file__).parents[2] / "docs" / "guide" / "data.md").read_text()


def test_every_problem_kind_is_in_the_guide() -> None:
    for kind in KINDS:
        assert f"| `{kind}` |" in GUIDE, kind


def test_every_command_is_in_the_guide() -> None:
    for name in data.commands:
        assert f"`ftsdk data {name} " in GUIDE, name
