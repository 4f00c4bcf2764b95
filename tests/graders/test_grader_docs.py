"""The graders' docs stay in step with the code: the guide's examples run, its metric table
names every metric, and every public name has a reference entry."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

import ftsdk.graders
from ftsdk.graders.text_similarity import Metric

DOCS = Path(__file__).parents[2] / "docs"
GUIDE = (DOCS / "guide" / "graders.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```python\n(.*?)```", GUIDE, flags=re.DOTALL)


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example-{n}" for n in range(len(EXAMPLES))])
def test_each_example_of_the_guide_runs(code: str) -> None:
    exec(compile(code, "docs/guide/graders.md", "exec"), {})


def test_the_guide_has_its_examples() -> None:
    assert len(EXAMPLES) == 6


def test_the_metric_table_names_every_metric() -> None:
    rows = re.findall(r"^\| `([a-z_0-9]+)`(?: \.\. `rouge_5`)? \|", GUIDE, flags=re.MULTILINE)
    named = set(rows) | {f"rouge_{n}" for n in range(2, 6)}
    assert set(typing.get_args(Metric)) <= named


def test_every_public_name_is_in_the_api_reference() -> None:
    reference = (DOCS / "reference" / "api" / "graders.md").read_text(encoding="utf-8")
    missing = [n for n in ftsdk.graders.__all__ if f"::: ftsdk.graders.{n}\n" not in reference]
    assert not missing, f"add `::: ftsdk.graders.NAME` to docs/reference/api/graders.md: {missing}"
