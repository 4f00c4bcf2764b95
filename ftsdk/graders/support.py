"""Which graders a service's reinforcement fine-tuning takes, and :func:`check_grader`, which
says before a job is created whether a grader will be refused, and why.

The two tables come from the published API descriptions (a test reads them and checks these
stay in step):

- :data:`OPENAI_RFT`: OpenAI's ``FineTuneReinforcementMethod.grader``: string check, text
  similarity, Python, score model and multi; a multi grader holds any of the first four.
  ``cosine`` is for evals only (OpenAI's graders guide), so it is refused here.
- :data:`AZURE_RFT`: Azure OpenAI v1's ``AzureFineTuneReinforcementMethod.grader``: the same
  without Python, at the top and inside a multi grader; its metric list has no ``cosine``;
  a score-model message's ``content`` is a string or one content part, not a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ftsdk.errors import InvalidRequest
from ftsdk.graders.formula import FormulaError
from ftsdk.graders.multi import Multi
from ftsdk.graders.python import MAX_SOURCE_BYTES, Python
from ftsdk.graders.score_model import ScoreModel
from ftsdk.graders.string_check import StringCheck
from ftsdk.graders.text_similarity import TextSimilarity

__all__ = ["AZURE_RFT", "OPENAI_RFT", "GraderSupport", "check_grader"]

_LOCAL_METRICS: Final = (
    "fuzzy_match", "bleu", "gleu", "meteor",
    "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
)  # fmt: skip


@dataclass(frozen=True)
class GraderSupport:
    """The graders one service takes for one purpose."""

    service: str
    """Who takes them, in words (``"Azure OpenAI reinforcement fine-tuning"``)."""
    types: frozenset[str]
    """The grader ``type`` s taken at the top."""
    multi_types: frozenset[str]
    """The ``type`` s a multi grader may hold."""
    metrics: frozenset[str]
    """The ``text_similarity`` metrics taken."""
    content_lists: bool = True
    """Whether a score-model message's ``content`` may be a list of parts (Azure's v1
    document takes a string or one part only)."""


OPENAI_RFT: Final = GraderSupport(
    service="OpenAI reinforcement fine-tuning",
    types=frozenset({"string_check", "text_similarity", "python", "score_model", "multi"}),
    multi_types=frozenset({"string_check", "text_similarity", "python", "score_model"}),
    metrics=frozenset(_LOCAL_METRICS),
)
AZURE_RFT: Final = GraderSupport(
    service="Azure OpenAI reinforcement fine-tuning",
    types=frozenset({"string_check", "text_similarity", "score_model", "multi"}),
    multi_types=frozenset({"string_check", "text_similarity", "score_model"}),
    metrics=frozenset(_LOCAL_METRICS),
    content_lists=False,
)

AnyGrader = StringCheck | TextSimilarity | Python | ScoreModel | Multi


def _problems(
    grader: AnyGrader, support: GraderSupport, where: str, kinds: frozenset[str]
) -> list[str]:
    if grader.type not in kinds:
        taken = ", ".join(sorted(kinds))
        inside = " inside a multi grader" if where != "grader" else ""
        return [
            f"{where}: {support.service} does not take {grader.type} graders{inside} "
            f"(it takes {taken})"
        ]
    found: list[str] = []
    if isinstance(grader, TextSimilarity) and grader.evaluation_metric not in support.metrics:
        found.append(
            f"{where}.evaluation_metric: {support.service} does not take "
            f"{grader.evaluation_metric!r} (it takes {', '.join(sorted(support.metrics))})"
        )
    elif isinstance(grader, Python):
        size = len(grader.source.encode("utf-8"))
        if size > MAX_SOURCE_BYTES:
            found.append(f"{where}.source: {size} bytes; the most the service takes is 256 kB")
        try:
            compile(grader.source, f"<grader {grader.name}>", "exec")
        except SyntaxError as err:
            found.append(f"{where}.source: line {err.lineno}: {err.msg}")
    elif isinstance(grader, ScoreModel):
        if grader.range is not None and (
            len(grader.range) != 2 or grader.range[0] >= grader.range[1]
        ):
            found.append(f"{where}.range: two numbers, the lowest score first: {grader.range}")
        found += [
            f"{where}.input[{n}].content: {support.service} takes a string or one content "
            "part, not a list"
            for n, message in enumerate(grader.input)
            if isinstance(message.content, list) and not support.content_lists
        ]
    elif isinstance(grader, Multi):
        try:
            grader.formula()
        except FormulaError as err:
            found.append(f"{where}.{err}")
        for key, sub in grader.graders.items():
            found += _problems(sub, support, f"{where}.graders.{key}", support.multi_types)
    return found


def check_grader(grader: AnyGrader, support: GraderSupport) -> None:
    """Raise :class:`~ftsdk.errors.InvalidRequest` listing every reason ``support``'s service
    would refuse ``grader`` (a type or metric it does not take, a formula that cannot be
    read, Python that does not compile or is too long); return quietly when there is none.

    >>> from ftsdk.graders import AZURE_RFT, Python
    >>> try:
    ...     check_grader(Python(name="mine", source="def grade(s, i): return 1"), AZURE_RFT)
    ... except InvalidRequest as error:
    ...     print(error.problems[0])  # doctest: +NORMALIZE_WHITESPACE
    grader: Azure OpenAI reinforcement fine-tuning does not take python graders
    (it takes multi, score_model, string_check, text_similarity)
    """
    problems = _problems(grader, support, "grader", support.types)
    if problems:
        field = problems[0].split(":", 1)[0]
        raise InvalidRequest("; ".join(problems), field=field, problems=problems)
