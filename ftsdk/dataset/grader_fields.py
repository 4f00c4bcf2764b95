"""Reinforcement data against its grader: every example must hold each field the grader's
templates read (``{{item.answer}}``), or the service grades it 0 with an error for each
answer, long after the upload. Checked here, before anything is sent, as file:line:field.
"""

from __future__ import annotations

from collections.abc import Iterable

from ftsdk.dataset.problems import Problem
from ftsdk.dataset.sources import Example
from ftsdk.graders.base import GraderBase
from ftsdk.graders.templates import TemplateError

__all__ = ["missing_item_fields"]


def missing_item_fields(examples: Iterable[Example], grader: GraderBase) -> list[Problem]:
    """One ``missing_item_field`` problem per example that lacks a field ``grader`` reads.

    >>> from ftsdk.dataset.problems import Origin
    >>> from ftsdk.graders import StringCheck
    >>> grader = StringCheck(name="exact", input="{{sample.output_text}}",
    ...                      reference="{{item.answer}}", operation="eq")
    >>> rows = [Example({"messages": [], "answer": "4"}, Origin("rft.jsonl", 1)),
    ...         Example({"messages": []}, Origin("rft.jsonl", 2))]
    >>> print(missing_item_fields(rows, grader)[0])  # doctest: +ELLIPSIS
    rft.jsonl:2: item.answer: the grader 'exact' reads {{ item.answer }}: item has no field ...
    """
    problems: list[Problem] = []
    for example in examples:
        try:
            grader.check_item(example.data)
        except TemplateError as err:
            problems.append(
                Problem(
                    "missing_item_field",
                    f"the grader {grader.name!r} reads {err.message}",
                    example.origin,
                    err.field or "",
                )
            )
    return problems
