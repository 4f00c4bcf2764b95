"""Plots as PNG bytes: a job's loss (and accuracy) curves, and base versus fine-tuned bars.

Needs matplotlib (``pip install 'ftsdk[plots]'``). Figures are drawn on matplotlib's Agg
canvas directly (no pyplot, no display, no global state), so they work in threads, on
servers and in CI::

    from ftsdk.compare import plots
    plots.training_curves(job, path="loss.png")        # any provider's job, or its metrics
    plots.comparison_bars(report, path="compare.png")
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftsdk.errors import ConfigurationError, InvalidRequest

if TYPE_CHECKING:
    from ftsdk.compare.report import ComparisonReport
    from ftsdk.jobs import Job, Metric

__all__ = ["comparison_bars", "has_curves", "training_curves"]

LOSSES = ("train_loss", "valid_loss")
ACCURACIES = ("train_accuracy", "valid_accuracy")
BASE_COLOUR, TUNED_COLOUR = "#8e8e93", "#0a84ff"


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ConfigurationError(
            "plots need matplotlib, which is not installed: pip install 'ftsdk[plots]'"
        ) from err
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any, path: str | Path | None) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def _metrics(source: Job | Sequence[Metric]) -> list[Metric]:
    if isinstance(source, Sequence):
        return sorted(source, key=lambda m: m.step)
    return source.metrics()


def has_curves(metrics: Sequence[Metric]) -> bool:
    """Whether ``metrics`` hold a loss to plot."""
    return any(name in m.values for m in metrics for name in LOSSES)


def training_curves(
    source: Job | Sequence[Metric], *, path: str | Path | None = None, title: str | None = None
) -> bytes:
    """A job's training and validation loss by step, and its accuracy beside it when the
    provider reports one, as PNG bytes (also written to ``path`` when given).

    :param source: a :class:`ftsdk.Job` on any provider, or its :meth:`~ftsdk.Job.metrics`.
    :raises InvalidRequest: no loss among the metrics (a job that has not logged a step).
    """
    metrics = _metrics(source)
    if not has_curves(metrics):
        raise InvalidRequest("no loss to plot: the job has logged no train_loss or valid_loss")
    accuracy = [n for n in ACCURACIES if any(n in m.values for m in metrics)]
    figure = _figure(9.0 if accuracy else 6.0, 3.4)
    axes = figure.subplots(1, 2 if accuracy else 1, squeeze=False)[0]
    panels = [(axes[0], LOSSES, "loss")] + ([(axes[1], accuracy, "accuracy")] if accuracy else [])
    for ax, names, label in panels:
        for name in names:
            points = [(m.step, m.values[name]) for m in metrics if name in m.values]
            if points:
                steps, values = zip(*points, strict=True)
                marker = "o" if len(points) < 30 else None
                ax.plot(steps, values, label=name.replace("_", " "), marker=marker, markersize=3)
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.suptitle(title or "Training")
    return _png(figure, path)


def comparison_bars(report: ComparisonReport, *, path: str | Path | None = None) -> bytes:
    """Base versus fine-tuned: quality per scorer, mean prompt and completion tokens per
    request, and cost per 1,000 requests (when either side costs something), as PNG bytes."""
    b, t = report.base.summary, report.tuned.summary
    # A cost panel only where there is a cost to show (local models cost 0 per token).
    priced = bool(b.cost_per_1k or t.cost_per_1k)
    figure = _figure(11.0 if priced else 8.0, 3.6)
    axes = figure.subplots(1, 3 if priced else 2)
    width = 0.38
    labels = [report.base.label, report.tuned.label]

    def bars(ax: Any, names: list[str], base: list[float], tuned: list[float]) -> None:
        xs = range(len(names))
        for shift, values, colour, label in (
            (-width / 2, base, BASE_COLOUR, labels[0]),
            (width / 2, tuned, TUNED_COLOUR, labels[1]),
        ):
            drawn = ax.bar([x + shift for x in xs], values, width, color=colour, label=label)
            ax.bar_label(drawn, fmt="%.3g", fontsize=8)
        ax.set_xticks(list(xs), names, fontsize=8)
        ax.grid(axis="y", alpha=0.3)

    scorers = report.scorers
    bars(
        axes[0],
        scorers,
        [b.quality[s] or 0.0 for s in scorers],
        [t.quality[s] or 0.0 for s in scorers],
    )
    axes[0].set_title("quality (0-1)")
    axes[0].set_ylim(0, 1.12)
    handles, names = axes[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="outside lower center", ncols=2, fontsize=9)
    bars(
        axes[1],
        ["prompt", "completion"],
        [b.mean_prompt_tokens or 0.0, b.mean_completion_tokens or 0.0],
        [t.mean_prompt_tokens or 0.0, t.mean_completion_tokens or 0.0],
    )
    axes[1].set_title("tokens per request")
    if priced:
        bars(axes[2], ["USD"], [b.cost_per_1k or 0.0], [t.cost_per_1k or 0.0])
        axes[2].set_title("cost per 1,000 requests")
    figure.suptitle(f"{report.examples} examples from {report.eval_set}")
    return _png(figure, path)
