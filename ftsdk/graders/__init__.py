"""Graders: score a model's answer the way OpenAI's and Azure's reinforcement fine-tuning do,
with the grader types of OpenAI's published schema, written once and run anywhere::

    from ftsdk.graders import Multi, StringCheck, TextSimilarity

    grader = Multi(name="answer", calculate_output="0.5 * exact + 0.5 * close", graders={
        "exact": StringCheck(name="exact", input="{{sample.output_text}}",
                             reference="{{item.answer}}", operation="eq"),
        "close": TextSimilarity(name="close", input="{{sample.output_text}}",
                                reference="{{item.answer}}", evaluation_metric="rouge_l"),
    })
    result = grader.run("the seventh of March", item={"answer": "the 7th of March"})
    result.reward, result.sub_rewards, result.errors
    grader.to_api()          # the JSON the services take

:func:`check_grader` says whether a service takes a grader (Azure takes no ``python``).
The metrics need ``pip install 'ftsdk[graders]'``.

Modules: :mod:`~ftsdk.graders.templates` (``{{item.*}}`` / ``{{sample.*}}``),
:mod:`~ftsdk.graders.result` (:class:`GraderResult`, the service's ``RunGraderResponse``),
:mod:`~ftsdk.graders.string_check`, :mod:`~ftsdk.graders.text_similarity`,
:mod:`~ftsdk.graders.python` (run in a child process by
:mod:`~ftsdk.graders.python_runner`), :mod:`~ftsdk.graders.score_model`,
:mod:`~ftsdk.graders.multi` with :mod:`~ftsdk.graders.formula` (``calculate_output``,
without ``eval``), :mod:`~ftsdk.graders.support` (:func:`check_grader`).
"""

from __future__ import annotations

from ftsdk.graders.formula import Formula, FormulaError
from ftsdk.graders.multi import Grader, Multi, SubGrader, parse_grader
from ftsdk.graders.python import Python
from ftsdk.graders.result import GraderErrors, GraderMetadata, GraderResult, TokenUsage
from ftsdk.graders.score_model import ChatModel, SamplingParams, ScoreModel, ScoreModelMessage
from ftsdk.graders.string_check import StringCheck
from ftsdk.graders.support import AZURE_RFT, OPENAI_RFT, GraderSupport, check_grader
from ftsdk.graders.templates import Sample, TemplateError
from ftsdk.graders.text_similarity import METRIC_NOTES, TextSimilarity

__all__ = [
    "AZURE_RFT",
    "METRIC_NOTES",
    "OPENAI_RFT",
    "ChatModel",
    "Formula",
    "FormulaError",
    "Grader",
    "GraderErrors",
    "GraderMetadata",
    "GraderResult",
    "GraderSupport",
    "Multi",
    "Python",
    "Sample",
    "SamplingParams",
    "ScoreModel",
    "ScoreModelMessage",
    "StringCheck",
    "SubGrader",
    "TemplateError",
    "TextSimilarity",
    "TokenUsage",
    "check_grader",
    "parse_grader",
]
