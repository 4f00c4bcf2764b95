"""Did the fine-tune beat the base model? Run an eval set through both, on any provider,
score the answers, and report quality, tokens and cost per 1,000 requests for each side
and the difference, as a table, JSON, or one self-contained HTML page with plots::

    import ftsdk
    from ftsdk.compare import compare, judge

    client = ftsdk.client("trl")
    job = client.job("trl-abc123")
    report = compare(client.model(job.state.base_model), job.model, "eval.jsonl",
                     scorers=["exact_match", "similarity"], few_shot=3,
                     few_shot_pool="train.jsonl")
    print(report)                               # the table
    report.to_html("report.html", job=job)      # summary, plots, every example

Modules: :mod:`~ftsdk.compare.run` (``compare``), :mod:`~ftsdk.compare.scorers`,
:mod:`~ftsdk.compare.prices` (from ``ftsdk/dataset/inference.json``),
:mod:`~ftsdk.compare.graded` (an :mod:`ftsdk.graders` grader as a scorer),
:mod:`~ftsdk.compare.report`, :mod:`~ftsdk.compare.plots` (needs ``ftsdk[plots]``),
:mod:`~ftsdk.compare.html`.
"""

from __future__ import annotations

from ftsdk.compare.graded import GraderScorer, graded
from ftsdk.compare.prices import Price, inference_price
from ftsdk.compare.report import ComparisonReport, Difference, ItemResult, Side, Summary
from ftsdk.compare.run import compare, load_eval_set
from ftsdk.compare.scorers import (
    Judge,
    Scorer,
    exact_match,
    judge,
    normalized_match,
    similarity,
    token_f1,
)

__all__ = [
    "ComparisonReport",
    "Difference",
    "GraderScorer",
    "ItemResult",
    "Judge",
    "Price",
    "Scorer",
    "Side",
    "Summary",
    "compare",
    "exact_match",
    "graded",
    "inference_price",
    "judge",
    "load_eval_set",
    "normalized_match",
    "similarity",
    "token_f1",
]
