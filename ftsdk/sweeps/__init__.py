"""Hyperparameter sweeps across providers under one budget, on Optuna::

    import ftsdk

    result = ftsdk.sweep(
        "job.yaml",
        space={"learning_rate": "1e-4..1e-2 log", "epochs": [1, 2, 3]},
        providers=["trl"],
        max_cost=5,          # USD: stops before a trial whose estimate would cross it
        max_trials=12,
    )
    print(result)            # every trial, the best first
    result.to_html("sweep.html")

Modules: :mod:`~ftsdk.sweeps.run` (``sweep``), :mod:`~ftsdk.sweeps.space` (the search
space), :mod:`~ftsdk.sweeps.objective` (what a trial is scored by),
:mod:`~ftsdk.sweeps.report` (the result). Needs ``pip install 'ftsdk[sweep]'``.
"""

from __future__ import annotations

from ftsdk.sweeps.objective import Compared, JobMetric, Objective
from ftsdk.sweeps.report import SweepResult, TrialResult
from ftsdk.sweeps.run import default_storage, sweep

__all__ = [
    "Compared",
    "JobMetric",
    "Objective",
    "SweepResult",
    "TrialResult",
    "default_storage",
    "sweep",
]
