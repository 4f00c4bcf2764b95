"""``string_check``: 1 when the filled-in input and reference compare as the operation says,
0 otherwise. The same numbers as the service: the operations are defined exactly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from ftsdk.graders.base import GraderBase, Outcome
from ftsdk.graders.templates import Sample, TemplateError

__all__ = ["StringCheck"]


class StringCheck(GraderBase):
    """Compare two strings: ``eq`` (equal), ``ne`` (not equal), ``like`` (the input contains
    the reference) and ``ilike`` (contains it, ignoring case). Scores 1 or 0.

    >>> grader = StringCheck(name="has Paris", input="{{sample.output_text}}",
    ...                      reference="paris", operation="ilike")
    >>> grader.run("It is Paris.").reward
    1.0
    >>> grader.to_api()["type"]
    'string_check'
    """

    type: Literal["string_check"] = "string_check"
    input: str
    """The text checked; may hold templates, usually ``{{sample.output_text}}``."""
    reference: str
    """The text it is checked against; may hold templates, usually ``{{item.<field>}}``."""
    operation: Literal["eq", "ne", "like", "ilike"]

    def _template_strings(self) -> Iterator[str]:
        yield self.input
        yield self.reference

    def _grade(self, sample: Sample, item: dict[str, Any]) -> Outcome:
        try:
            text = self._render(self.input, sample, item)
            reference = self._render(self.reference, sample, item)
        except TemplateError as error:
            return Outcome.template_failed(error)
        if self.operation == "eq":
            passed = text == reference
        elif self.operation == "ne":
            passed = text != reference
        elif self.operation == "like":
            passed = reference in text
        else:
            passed = reference.lower() in text.lower()
        return Outcome(reward=1.0 if passed else 0.0)
