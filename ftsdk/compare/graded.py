"""An :mod:`ftsdk.graders` grader as a :func:`~ftsdk.compare.compare` scorer, so the reward a
model was trained on (reinforcement fine-tuning) also judges the base against the fine-tune::

    from ftsdk.compare import compare, graded
    from ftsdk.graders import StringCheck

    exact = StringCheck(name="exact", input="{{sample.output_text}}",
                        reference="{{item.answer}}", operation="eq")
    report = compare(base, tuned, "eval.jsonl", scorers=[graded(exact)])

Each answer is graded with the eval item as read as ``item`` (its ``{{item.*}}`` fields), as
``grader.run(answer, item=example)``; the score is the grader's reward. An answer the grader
could not score (a template naming a missing field, a Python grader past its time limit) is
that item's error for this scorer, not a reward of 0. :func:`compare` takes a grader as it is
too: it wraps it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ftsdk.compare.scorers import Scorer

if TYPE_CHECKING:
    from ftsdk.graders import Grader

__all__ = ["GraderScorer", "graded", "is_grader"]


class GraderScorer(Scorer):
    """A scorer whose score is a grader's reward; build it with :func:`graded`."""

    def __init__(self, grader: Grader, *, name: str | None = None) -> None:
        super().__init__(name or grader.name, self._reward)
        self.grader = grader

    def _reward(self, prediction: str, reference: str, example: Mapping[str, Any]) -> float:
        result = self.grader.run(prediction, item=example)
        if not result.ok:
            why = "; ".join(result.messages) or "grader error"
            raise ValueError(f"grader {self.grader.name!r} could not score the answer: {why}")
        return result.reward


def graded(grader: Grader, *, name: str | None = None) -> GraderScorer:
    """A scorer that grades each answer with ``grader`` (named after it unless ``name``)."""
    return GraderScorer(grader, name=name)


def is_grader(value: object) -> bool:
    """Whether ``value`` is an :mod:`ftsdk.graders` grader (checked without importing the
    graders when nothing could be one)."""
    import sys

    graders = sys.modules.get("ftsdk.graders.base")
    return graders is not None and isinstance(value, graders.GraderBase)
