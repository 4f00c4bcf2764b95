"""``multi``: named graders combined by a formula, and :func:`parse_grader`, which reads
any grader from the service's JSON.

``graders`` is a mapping from the name the formula uses to a grader, as the service takes
it. (OpenAI's published OpenAPI document types ``graders`` as one grader, not a mapping; the
service refuses that shape — openai/openai-java#647 — and Azure's v1 document and OpenAI's
guide both show the mapping, so ftsdk sends the mapping.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from ftsdk.errors import InvalidRequest
from ftsdk.graders.base import GraderBase, Outcome
from ftsdk.graders.formula import Formula, FormulaError
from ftsdk.graders.python import Python
from ftsdk.graders.result import GraderErrors, TokenUsage
from ftsdk.graders.score_model import ScoreModel
from ftsdk.graders.string_check import StringCheck
from ftsdk.graders.templates import Sample
from ftsdk.graders.text_similarity import TextSimilarity

__all__ = ["Grader", "Multi", "SubGrader", "parse_grader"]

SubGrader = Annotated[
    StringCheck | TextSimilarity | Python | ScoreModel, Field(discriminator="type")
]
"""A grader a multi grader can hold."""


class Multi(GraderBase):
    """Several graders, each under a name, and ``calculate_output``: a formula over those
    names (``+ - * / ^``, parentheses, ``min max abs floor ceil exp sqrt log``).

    >>> grader = Multi(name="both", calculate_output="(city + close) / 2", graders={
    ...     "city": StringCheck(name="city", input="{{sample.output_text}}",
    ...                         reference="{{item.city}}", operation="eq"),
    ...     "close": TextSimilarity(name="close", input="{{sample.output_text}}",
    ...                             reference="{{item.city}}", evaluation_metric="fuzzy_match")})
    >>> result = grader.run("Paris", item={"city": "Paris"})
    >>> result.reward, result.sub_rewards
    (1.0, {'city': 1.0, 'close': 1.0})
    """

    type: Literal["multi"] = "multi"
    graders: dict[str, SubGrader]
    calculate_output: str
    """The formula; it names the graders by their keys in :attr:`graders`."""

    def formula(self) -> Formula:
        """``calculate_output`` parsed; :class:`~ftsdk.graders.formula.FormulaError` when it
        cannot be read or names something that is not one of :attr:`graders`."""
        formula = Formula(self.calculate_output)
        unknown = sorted(formula.names - set(self.graders))
        if unknown:
            raise FormulaError(
                f"calculate_output names {', '.join(unknown)}, which no grader in 'graders' is "
                f"(the graders are {', '.join(sorted(self.graders)) or 'none'})"
            )
        return formula

    def _template_strings(self) -> Iterator[str]:
        for grader in self.graders.values():
            yield from grader._template_strings()

    def _grade(self, sample: Sample, item: dict[str, Any]) -> Outcome:
        try:
            formula = self.formula()
        except FormulaError as error:
            return Outcome.failed(str(error), formula_parse_error=True)
        combined = Outcome()
        errors = GraderErrors()
        for key, grader in self.graders.items():
            part = grader._grade(sample, item)
            combined.sub_rewards[key] = part.reward
            errors = errors.merged(part.errors)
            combined.messages.extend(f"{key}: {message}" for message in part.messages)
            for model, usage in part.usage.items():
                combined.usage[model] = combined.usage.get(model, TokenUsage()) + usage
            combined.sampled_model_name = combined.sampled_model_name or part.sampled_model_name
        combined.errors = errors
        try:
            combined.reward = formula.evaluate(combined.sub_rewards)
        except (ArithmeticError, ValueError) as error:
            combined.errors = errors.merged(GraderErrors(other_error=True))
            combined.messages.append(f"calculate_output {self.calculate_output!r}: {error}")
            combined.reward = 0.0
        return combined


Grader = Annotated[
    StringCheck | TextSimilarity | Python | ScoreModel | Multi, Field(discriminator="type")
]
"""Any grader that ``graders/run`` and reinforcement fine-tuning take."""

_GRADER: TypeAdapter[Any] = TypeAdapter(Grader)


def parse_grader(
    data: Mapping[str, Any] | str,
) -> StringCheck | TextSimilarity | Python | ScoreModel | Multi:
    """Read a grader from the service's JSON (a mapping or a JSON string).

    >>> parse_grader({"type": "string_check", "name": "c", "input": "{{sample.output_text}}",
    ...               "reference": "yes", "operation": "eq"}).operation
    'eq'
    """
    try:
        if isinstance(data, str):
            grader: StringCheck | TextSimilarity | Python | ScoreModel | Multi = (
                _GRADER.validate_json(data)
            )
        else:
            grader = _GRADER.validate_python(dict(data))
    except ValidationError as err:
        problems = [f"{_json_path(e['loc'])}: {e['msg']}" for e in err.errors()]
        raise InvalidRequest(
            f"not a grader: {problems[0]}",
            field=_json_path(err.errors()[0]["loc"]),
            problems=problems,
        ) from None
    return grader


def _json_path(loc: tuple[int | str, ...]) -> str:
    """Pydantic's error location as the JSON path: without the ``type`` tags it inserts
    after each union (``multi.graders.x.string_check.input`` -> ``graders.x.input``)."""
    steps = list(loc[1:])  # loc[0] is the top grader's tag
    if len(steps) >= 3 and steps[0] == "graders":
        del steps[2]  # the sub-grader's tag
    return ".".join(["grader", *map(str, steps)])
