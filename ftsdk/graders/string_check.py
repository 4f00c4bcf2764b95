"""``string_check``: 1 when the filled-in input and reference compare as the operation says,
0 otherwise. The same numbers as the service: the operations are defined exactly."""

from __future__ import annotations

from typing import Literal

from ftsdk.graders.base import InputReferenceGrader, Outcome

__all__ = ["StringCheck"]


class StringCheck(InputReferenceGrader):
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
    operation: Literal["eq", "ne", "like", "ilike"]

    def _compare(self, text: str, reference: str) -> Outcome:
        if self.operation == "eq":
            passed = text == reference
        elif self.operation == "ne":
            passed = text != reference
        elif self.operation == "like":
            passed = reference in text
        else:
            passed = reference.lower() in text.lower()
        return Outcome(reward=1.0 if passed else 0.0)
