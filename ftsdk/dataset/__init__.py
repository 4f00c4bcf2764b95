"""The dataset toolkit: load training data from anywhere, check it against a provider's
rules with file:line:field problems, count its tokens, estimate the cost of a run, convert
it, split it and write it.

    from ftsdk.dataset import Dataset

    report = Dataset.load("train.jsonl").validate(target=("openai", "gpt-4o-mini"))
    print(report.ok, report.stats.total, report.cost.usd)

Modules: :mod:`~ftsdk.dataset.sources` (readers), :mod:`~ftsdk.dataset.formats` (shapes and
conversions), :mod:`~ftsdk.dataset.problems` (problem kinds, the report),
:mod:`~ftsdk.dataset.targets` (provider rules and prices, as each provider declares them),
:mod:`~ftsdk.dataset.tokens`, :mod:`~ftsdk.dataset.cost`, :mod:`~ftsdk.dataset.validation`,
:mod:`~ftsdk.dataset.writing`, :mod:`~ftsdk.dataset.estimate` (GPU memory and time of local
training, estimated).
"""

from __future__ import annotations

from ftsdk.dataset.cost import CostEstimate, TokenStats, default_epochs
from ftsdk.dataset.dataset import Dataset
from ftsdk.dataset.estimate import (
    GpuFit,
    MemoryEstimate,
    ModelShape,
    TrainingEstimate,
    estimate_training,
    read_model_shape,
)
from ftsdk.dataset.problems import KINDS, Origin, Problem, Severity, ValidationReport
from ftsdk.dataset.sources import Example
from ftsdk.dataset.targets import Target

__all__ = [
    "KINDS",
    "CostEstimate",
    "Dataset",
    "Example",
    "GpuFit",
    "MemoryEstimate",
    "ModelShape",
    "Origin",
    "Problem",
    "Severity",
    "Target",
    "TokenStats",
    "TrainingEstimate",
    "ValidationReport",
    "default_epochs",
    "estimate_training",
    "read_model_shape",
]
